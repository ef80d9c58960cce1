"""Forms of the public site and its back-office pages: bad input stops here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kluis.accounts.forms import EmailField
from kluis.accounts.validators import MAX_NAME_LENGTH, validate_free_text, validate_name

MAX_MESSAGE_LENGTH = 5000
MAX_ANSWER_LENGTH = 10000


class MessageField(forms.CharField):
    """Free text over several lines; shown as typed, never interpreted."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 8}))
        kwargs.setdefault("validators", [validate_free_text])
        super().__init__(max_length=max_length, **kwargs)

    def to_python(self, value: Any) -> str:
        text = str(super().to_python(value))
        return text.replace("\r\n", "\n").replace("\r", "\n")


class ContactForm(forms.Form):
    name = forms.CharField(
        label=_("Naam"),
        max_length=MAX_NAME_LENGTH,
        validators=[validate_name],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = EmailField(
        label=_("E-mailadres"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    message = MessageField(label=_("Je vraag"), max_length=MAX_MESSAGE_LENGTH)


class QuestionRevealForm(forms.Form):
    """Which of a question's values to open; the purpose is always answer_questions."""

    FIELDS = ("name", "email", "message")

    field = forms.ChoiceField(label=_("Gegeven"), choices=[(f, f) for f in FIELDS])


class AnswerForm(forms.Form):
    body = MessageField(label=_("Antwoord"), max_length=MAX_ANSWER_LENGTH)
    # How many answers the page showed: a second click, or a colleague who answered
    # meanwhile, is caught instead of sending a second mail.
    after = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    close = forms.BooleanField(label=_("Vraag sluiten na versturen"), required=False)


class ConsentForm(forms.Form):
    statistics = forms.ChoiceField(choices=[("yes", "yes"), ("no", "no")])
    next = forms.CharField(required=False, max_length=2000)
