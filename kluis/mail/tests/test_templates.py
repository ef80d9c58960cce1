"""Templates: customer text stays text, headers stay one line, Dutch and English."""

import pytest

from kluis.mail.delivery import deliver_due, render_mail
from kluis.mail.emails import TEST_MESSAGE
from kluis.mail.tests.conftest import ADDRESS, queue_test_mail


def _render(note: str, language: str = "nl"):
    return render_mail(template=TEST_MESSAGE, language=language, context={"note": note})


def test_template_syntax_in_a_value_shows_literally_everywhere():
    # As source, "{{7*7}}" would not even parse; the other two would print 3333 and
    # the whole template context.
    value = "{{7*7}} {{ 1111|add:2222 }} {% debug %}"
    mail = _render(value)
    for part in (mail.subject, mail.text, mail.html):
        assert value in part
        assert "3333" not in part and "site_name" not in part


def test_html_escapes_values_and_plain_text_keeps_them_as_typed():
    mail = _render('<script>alert(1)</script> Jansen & Zn "B.V."')
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Jansen &amp; Zn &quot;B.V.&quot;" in mail.html
    assert '<script>alert(1)</script> Jansen & Zn "B.V."' in mail.text
    assert 'Jansen & Zn "B.V."' in mail.subject


@pytest.mark.parametrize("linebreak", ["\r\n", "\n", "\r", "\u2028", "\x85"])
def test_a_line_break_in_a_value_cannot_start_a_header_in_the_subject(linebreak):
    mail = _render(f"Jan{linebreak}Bcc: x@example.com")
    assert mail.subject == "Testbericht van winkeltjes.net: Jan Bcc: x@example.com"


@pytest.mark.django_db(databases="__all__")
def test_a_header_injection_attempt_adds_no_header_and_no_recipient(smtp_settings):
    queue_test_mail(note="Jan\r\nBcc: x@example.com\r\nX-Evil: 1")
    assert deliver_due(worker="w").sent == 1
    [received] = smtp_settings.received
    assert received.rcpt_tos == [ADDRESS]
    assert received.message["Bcc"] is None and received.message["X-Evil"] is None
    assert received.message["Subject"].endswith(": Jan Bcc: x@example.com X-Evil: 1")


def test_the_dutch_mail_is_in_dutch():
    mail = _render("", "nl")
    assert mail.subject == "Testbericht van winkeltjes.net"
    assert "Dit is een testbericht." in mail.text and "Dit is een testbericht." in mail.html
    assert "automatisch verstuurd door winkeltjes.net" in mail.text
    assert '<html lang="nl">' in mail.html


def test_the_english_mail_is_in_english():
    mail = _render("after the relay change", "en")
    assert mail.subject == "Test message from winkeltjes.net: after the relay change"
    assert "This is a test message." in mail.text and "Note: after the relay change" in mail.text
    assert "This is a test message." in mail.html and '<html lang="en">' in mail.html
    assert "sent automatically by winkeltjes.net" in mail.html
    assert "testbericht" not in (mail.text + mail.html).lower()


@pytest.mark.django_db(databases="__all__")
def test_each_mail_goes_out_in_its_recipients_language(smtp_settings):
    queue_test_mail(language="en", dedupe_key="mail:test:en")
    queue_test_mail(language="nl", dedupe_key="mail:test:nl")
    assert deliver_due(worker="w").sent == 2
    subjects = sorted(r.message["Subject"] for r in smtp_settings.received)
    assert subjects == ["Test message from winkeltjes.net", "Testbericht van winkeltjes.net"]
    english = next(r for r in smtp_settings.received if r.message["Subject"].startswith("Test "))
    assert "This is a test message." in english.text and "This is a test message." in english.html
