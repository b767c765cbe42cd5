"""Phone numbers as a leader or another user sees them (services/leaders.mask_phone)."""

from hypothesis import event, given
from hypothesis import strategies as st

from huituan.services.leaders import mask_phone


def test_a_mainland_mobile_shows_three_and_four():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(" 13812345678 ") == "138****5678"
    assert mask_phone("") == mask_phone(None) == ""


@given(st.text(alphabet="0123456789+- ", min_size=1, max_size=20))
def test_at_least_four_digits_and_never_most_of_a_number_are_shown(phone):
    """Attacker pass, session 7: an 8-digit number showed 7 of its digits (3 + 4)."""
    digits = sum(ch.isdigit() for ch in phone)
    shown = sum(ch.isdigit() for ch in mask_phone(phone))
    event(f"digits {'≥ 11' if digits >= 11 else '7-10' if digits >= 7 else '< 7'}")
    assert shown <= max(0, digits - 4) and shown <= 7, (phone, mask_phone(phone))
    assert shown <= digits // 2 + 1 or digits >= 11, (phone, mask_phone(phone))


@given(st.text(max_size=12))
def test_no_csv_cell_of_the_leader_exports_can_start_a_formula(text):
    """Attacker pass, session 7: a SKU name "\\t-1+1" reached the CSV raw (only = + - @ as the
    very first character were caught)."""
    from huituan.services.pickup.day import safe_cell

    cell = safe_cell(text)
    dangerous = text[:1] in ("=", "+", "-", "@", "\t", "\r") or text.lstrip()[:1] in ("=", "+", "-", "@", "\t", "\r")
    event("dangerous" if dangerous else "plain")
    assert cell == ("'" + text if dangerous else text)
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")
