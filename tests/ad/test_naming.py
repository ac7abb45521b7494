"""Login names: transliteration, rules and the collision rule."""

from __future__ import annotations

import pytest

from itref.ad.naming import ascii_name, render_login, render_pattern, unique_login


@pytest.mark.parametrize(("first", "last", "rule", "login"), [
    ("Émilie", "Lefèvre-D'Hondt", "{first_initial}{last}", "elefevre-dhondt"),
    ("Émilie", "Lefèvre", "{first_initial}{last}", "elefevre"),
    ("Jean-Luc", "Van der Berg", "{first}.{last}", "jean-luc.vanderberg"),
    ("Ærøskøbing", "Straße", "{first}.{last}", "aeroskobing.strasse"),
    ("Zoë", "D\u2019Angelo", "{first_initial}{last}", "zdangelo"),
    ("Marie", "Dupont", "{last}{first_initial}", "dupontm"),
])
def test_login_rules_give_lowercase_ascii(first: str, last: str, rule: str, login: str) -> None:
    assert render_login(rule, first, last) == login


def test_logins_fit_the_20_character_sam_limit() -> None:
    assert len(render_login("{first}.{last}", "Marie-Christine", "Vanderstraeten-Lefebvre")) == 20


def test_unknown_placeholder_and_empty_results_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        render_login("{surname}", "A", "B")
    with pytest.raises(ValueError, match="empty"):
        render_login("{last}", "Ann", "***")


def test_collision_rule_appends_the_first_free_digit() -> None:
    taken = {"elefevre", "elefevre2"}
    assert unique_login("elefevre", taken.__contains__) == "elefevre3"
    assert unique_login("free", taken.__contains__) == "free"
    long = "a" * 20
    assert unique_login(long, {long}.__contains__) == "a" * 19 + "2"


def test_patterns_for_mail_and_home() -> None:
    assert render_pattern("{first}.{last}@exemple.example", "Émilie", "Lefèvre", "elefevre") == \
        "emilie.lefevre@exemple.example"
    assert render_pattern("\\\\files\\home\\{login}", "É", "L", "elefevre") == "\\\\files\\home\\elefevre"


def test_ascii_name_drops_symbols_but_keeps_hyphen_and_dot() -> None:
    assert ascii_name("  O'Brien-Smith  ") == "obrien-smith"
    assert ascii_name("a*b(c)d") == "abcd"
