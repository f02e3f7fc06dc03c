"""The language of what course_utils says (``course_utils.language``): English by default,
the edition's in its assignment's folder or when ``VAE_COURSE_LANGUAGE`` says so; a message
rendered when shown, in that language, with the same values formatted alike; a stale or
broken translation never shown."""

import pytest

from course_utils import language
from course_utils.exercises import MISTAKES, exercise
from course_utils.language import Message, msg


def test_english_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert language.language() == language.ENGLISH
    assert str(msg("common.above", "above")) == "above"


def test_the_folder_of_an_editions_assignment_says_its_language(portuguese):
    assert language.language() == "pt_BR"
    assert str(msg("common.above", "above")) == "acima"


def test_the_environment_overrides_the_folder(portuguese, tmp_path, monkeypatch):
    monkeypatch.setenv(language.ENVIRONMENT, "en")
    assert language.language() == language.ENGLISH
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(language.ENVIRONMENT, "pt-BR")
    assert language.language() == "pt_BR"
    monkeypatch.setenv(language.ENVIRONMENT, "klingon")
    assert language.language() == language.ENGLISH


def test_a_message_renders_when_shown_in_the_language_of_that_moment(tmp_path, monkeypatch):
    """A message made in English (a module constant, say) is shown in the language the reader
    has when it is shown, its nested messages too, and its values as the English formats them."""
    known = MISTAKES["std_for_variance"].explained
    said = msg(
        "common.known_mistake", "this is the value of a known mistake: {known}.", known=known
    )
    rate = msg("plotting.active.threshold", "threshold {threshold:g}", threshold=0.010)
    monkeypatch.chdir(tmp_path)
    assert (
        str(said) == f"this is the value of a known mistake: {MISTAKES['std_for_variance'].text}."
    )
    (tmp_path / "vae-pt").mkdir()
    monkeypatch.chdir(tmp_path / "vae-pt")
    assert str(said) == (
        "este é o valor de um erro conhecido: v tratado como desvio padrão (variância v**2), "
        "mas é uma variância."
    )
    assert f"[{rate}]" == "[limiar 0.01]"  # Python's decimal point in both languages
    assert str(exercise("kl_normal").heading).startswith("Exercício 2.3: a divergência KL")


def test_a_stale_or_broken_translation_is_not_shown(portuguese, monkeypatch):
    english = "kl = {kl:.4f}: check the signs"
    current = {"en_sha256": language.digest(english), "text": "kl = {kl:.4f}: confira os sinais"}
    catalog = {"demo.current": current}
    catalog["demo.stale"] = {**current, "en_sha256": language.digest("an older English")}
    catalog["demo.broken"] = {**current, "text": "kl = {kappa:.4f}: confira os sinais"}
    monkeypatch.setattr(language, "catalog", lambda code: catalog)
    assert str(Message("demo.current", english, {"kl": 0.5})) == "kl = 0.5000: confira os sinais"
    assert str(Message("demo.stale", english, {"kl": 0.5})) == "kl = 0.5000: check the signs"
    assert str(Message("demo.broken", english, {"kl": 0.5})) == "kl = 0.5000: check the signs"
    assert str(Message("demo.absent", english, {"kl": 0.5})) == "kl = 0.5000: check the signs"


def test_the_fields_of_a_template_are_its_names_conversions_and_specs():
    assert language.fields("{b!r} and {a:.3f}, {a:.3f} and {}") == [
        ("", "", ""),
        ("a", "", ".3f"),
        ("a", "", ".3f"),
        ("b", "r", ""),
    ]


@pytest.mark.parametrize("code", language.languages()[1:])
def test_each_translated_language_has_its_messages_file(code):
    assert language.catalog(code), f"{language.LOCALE / code}.json is missing or empty"
