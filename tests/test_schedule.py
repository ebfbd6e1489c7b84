"""The λ schedule: one type parses and prints every form a λ takes."""

import pytest
from cxrloc.schedule import Schedule, label, ordered


@pytest.mark.parametrize("token,lam,warmup", [("0.5", 0.5, 0), ("0.5w2", 0.5, 2), ("1aw3", "adaptive", 3), ("1", 1.0, 0),
                                              ("adaptive", "adaptive", 0), (0.25, 0.25, 0)])
def test_run_name_tokens_round_trip(token, lam, warmup):
    s = Schedule.parse(token)
    assert (s.lam, s.warmup) == (lam, warmup)
    assert Schedule.parse(s.token) == s


def test_key_token_and_label_of_each_form():
    s = Schedule.parse("1aw3")
    assert (s.key, s.token, s.label) == ("adaptive", "1aw3", "λ = Adapt, warm-up 3")
    assert (Schedule.parse(0.75).key, Schedule.parse(0.75).label) == ("0.75", "λ = 0.75")
    assert label("0.5", 2) == "λ = 0.5, warm-up 2"
    assert Schedule.parse("1").cross_entropy and not Schedule.parse("1a").cross_entropy


def test_lambda_per_epoch_with_warm_up_and_the_adaptive_rule():
    adaptive = Schedule.parse("adaptive")
    assert adaptive.at(0) == 1.0 and adaptive.at(10) == pytest.approx(0.77) and adaptive.at(99) == 0.2
    assert [Schedule.parse("0.25w2").at(e) for e in range(4)] == [1.0, 1.0, 0.25, 0.25]


def test_appendix_order_is_descending_with_adaptive_last():
    assert ordered(["0.5", "adaptive", "1", "0.75", "0.5"]) == ["1", "0.75", "0.5", "adaptive"]


@pytest.mark.parametrize("bad", ["1.5", "half", "0.5wx", "-0.1"])
def test_a_bad_lambda_is_an_error_naming_it(bad):
    with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.")):
        Schedule.parse(bad)
