"""The cut algorithm, proven on random activities (hypothesis): every cut within its bounds,
the floor reached exactly at the N-th help, the cuts summing to start - floor."""

import random

from hypothesis import event, given, settings
from hypothesis import strategies as st

from huituan.services.activities.bargain_cuts import feasible, next_cut


@st.composite
def activities(draw):
    helpers = draw(st.integers(1, 60))
    cut_min = draw(st.integers(1, 500))
    cut_max = draw(st.integers(cut_min, cut_min + 3000))
    span = draw(st.integers(helpers * cut_min, helpers * cut_max))
    floor = draw(st.integers(0, 100_000))
    new_user_cut = draw(st.one_of(st.just(0), st.integers(1, cut_max * 3)))
    new_users = draw(st.lists(st.booleans(), min_size=helpers, max_size=helpers))
    return floor + span, floor, helpers, cut_min, cut_max, new_user_cut, new_users, draw(st.integers(0, 2**32))


FIRED: dict[str, int] = {"new_user_above_max": 0, "single_help": 0, "many_helps": 0}


@settings(max_examples=400, deadline=None)
@given(activities())
def _property(case):
    start, floor, helpers, cut_min, cut_max, new_user_cut, new_users, seed = case
    assert feasible(start, floor, helpers, cut_min, cut_max)
    rng = random.Random(seed)
    price, cuts = start, []
    for k in range(helpers):
        bonus = new_user_cut if new_users[k] else 0
        cut = next_cut(price - floor, helpers - k, cut_min, cut_max, rng, bonus)
        upper = max(cut_max, bonus)
        assert cut_min <= cut <= upper
        if bonus and cut > cut_max:
            event("new-user cut above the normal maximum")
            FIRED["new_user_above_max"] += 1
        price -= cut
        cuts.append(cut)
        assert price >= floor
        if k < helpers - 1:
            assert price > floor  # the floor is not reached before the N-th help
    assert price == floor
    assert sum(cuts) == start - floor
    event(f"helpers={'1' if helpers == 1 else '2-10' if helpers <= 10 else '>10'}")
    if cut_min == cut_max:
        event("fixed cut size")
    FIRED["single_help" if helpers == 1 else "many_helps"] += 1


def test_cuts_stay_in_bounds_and_reach_the_floor_exactly_at_the_nth_help():
    _property()
    # The interesting branches really ran.
    assert all(n > 0 for n in FIRED.values()), FIRED


def test_infeasible_states_are_refused():
    assert not feasible(1000, 0, 5, 300, 400)  # 5*300 > 1000
    assert not feasible(10000, 0, 5, 100, 1000)  # 5*1000 < 10000
    try:
        next_cut(10, 2, 6, 8)
    except ValueError:
        pass
    else:
        raise AssertionError("an infeasible state must raise")
