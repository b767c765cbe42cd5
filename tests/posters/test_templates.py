"""Templates are data: the built-in styles validate, and a bad spec is refused with a message
naming the field as a JSON pointer."""

from __future__ import annotations

import copy

import pytest

from huituan.core.errors import ValidationFailed
from huituan.posters.templates import builtin_defaults, builtin_templates, validate_spec


def test_at_least_three_builtin_styles_and_a_default_for_every_kind():
    assert len(builtin_templates()) >= 3
    assert set(builtin_defaults()) == {"promoter_invite", "product", "group_buy", "bargain", "leader_store"}
    assert set(builtin_defaults().values()) <= set(builtin_templates())


def _bad(mutate) -> ValidationFailed:
    spec = copy.deepcopy(builtin_templates()["classic"])
    mutate(spec)
    with pytest.raises(ValidationFailed) as exc:
        validate_spec(spec)
    return exc.value


@pytest.mark.parametrize("mutate, pointer", [
    (lambda s: s["layers"][4].update(size=2), "/layers/4/size"),
    (lambda s: s["layers"][4].update(color="red"), "/layers/4/color"),
    (lambda s: s["layers"][0].update(fit="stretch"), "/layers/0/fit"),
    (lambda s: s["layers"][1].update(type="sticker"), "/layers/1"),
    (lambda s: s["canvas"].pop("width"), "/canvas/width"),
    (lambda s: s.update(format="gif"), "/format"),
    (lambda s: s["layers"][0].update(w=5000), "/layers/0/w"),
    (lambda s: s["layers"][0].update(x=100), "/layers/0/x"),
    (lambda s: s["layers"].pop(8), "/layers"),
    (lambda s: s["layers"][4].update(shadow=True), "/layers/4/shadow"),
    (lambda s: s["canvas"].update(width=1.5), "/canvas/width"),  # English before session 7
    (lambda s: s["layers"][0].update(x=1e308), "/layers/0/x"),
])
def test_a_bad_template_names_the_field_as_a_json_pointer(mutate, pointer):
    err = _bad(mutate)
    assert err.details["field"] == pointer
    assert err.message.startswith(pointer)
    assert err.code == "template_invalid"
    for english in ("Input", "should", "Unable", " or ", "Field required"):  # pydantic's words
        assert english not in err.message, err.message
