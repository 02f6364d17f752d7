//! Masks personal data in free text before it is logged: email addresses and
//! phone-number-like digit runs. Used by the logs of HTTP errors, reloads, background
//! tasks and the scheduler. Pure: no I/O. Names cannot be recognised in free text,
//! which is why bodies are never logged.

use std::borrow::Cow;

/// What an email address becomes in a log.
pub const EMAIL_MASK: &str = "<email>";
/// What a phone number becomes in a log.
pub const PHONE_MASK: &str = "<phone>";

/// The fewest digits a run needs to count as a phone number when it has separators or
/// a `+` (`555-0100`); bare digit runs need [`BARE_PHONE_DIGITS`], so byte counts and
/// other plain numbers survive.
const PHONE_DIGITS: usize = 7;
const BARE_PHONE_DIGITS: usize = 10;

/// Masks email addresses and phone-number-like digit runs in free text.
///
/// A phone number is a run of digits with optional separators (space, `-`, `.`,
/// parentheses) and an optional leading `+`, standing on its own (not inside a word
/// or a hex string, nor joined to one by `-` or `.`), with at least 7 digits when it has separators or a `+` and at
/// least 10 when it has none. ISO dates (`2026-04-07`) and dotted IPv4 addresses are
/// left alone.
pub fn redact(text: &str) -> Cow<'_, str> {
    let emails = mask_emails(text);
    match mask_phones(&emails) {
        Cow::Borrowed(_) => emails,
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

/// [`redact`] for a request URI, after percent-decoding it (`%40` is `@`, `%2B` is
/// `+`) so encoded personal data is masked too.
pub fn redact_uri(uri: &str) -> String {
    redact(&percent_decode(uri)).into_owned()
}

fn is_local_part(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-')
}

fn mask_emails(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut position = 0;
    while let Some(offset) = text.get(position..).and_then(|rest| rest.find('@')) {
        let at = position + offset;
        let mut start = at;
        while start > 0 && bytes.get(start - 1).copied().is_some_and(is_local_part) {
            start -= 1;
        }
        let mut end = at + 1;
        while bytes.get(end).copied().is_some_and(is_domain) {
            end += 1;
        }
        // A sentence's full stop is not part of the domain.
        while end > at + 1 && bytes.get(end - 1) == Some(&b'.') {
            end -= 1;
        }
        let domain = text.get(at + 1..end).unwrap_or("");
        if start < at && domain.contains('.') && !domain.starts_with('.') {
            spans.push(start..end);
            position = end;
        } else {
            position = at + 1;
        }
    }
    replace_spans(text, &spans, EMAIL_MASK)
}

fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'-' | b'.' | b'(' | b')')
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn mask_phones(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if bytes.iter().filter(|b| b.is_ascii_digit()).count() < PHONE_DIGITS {
        return Cow::Borrowed(text);
    }
    let mut spans = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes.get(index).copied().unwrap_or(0);
        let next_is_digit = bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
        let starts = byte.is_ascii_digit() || (matches!(byte, b'+' | b'(') && next_is_digit);
        // Not inside a word, nor glued to one by `-` or `.` (`A-12…`, a UUID's last group).
        let previous = index.checked_sub(1).and_then(|i| bytes.get(i).copied());
        let before_previous = index.checked_sub(2).and_then(|i| bytes.get(i).copied());
        let after_word = previous.is_some_and(is_word)
            || (matches!(previous, Some(b'-' | b'.')) && before_previous.is_some_and(is_word));
        if !starts || after_word {
            index += 1;
            continue;
        }
        // Extend over digits and separators, then give back trailing separators
        // (but keep a closing parenthesis that follows a digit).
        let mut end = index + 1;
        while bytes
            .get(end)
            .copied()
            .is_some_and(|b| b.is_ascii_digit() || is_separator(b))
        {
            end += 1;
        }
        while end > index && !bytes.get(end - 1).is_some_and(u8::is_ascii_digit) {
            end -= 1;
        }
        let run = text.get(index..end).unwrap_or("");
        let digits = run.bytes().filter(u8::is_ascii_digit).count();
        let decorated = run.bytes().any(|b| !b.is_ascii_digit());
        let long_enough = digits >= BARE_PHONE_DIGITS || (decorated && digits >= PHONE_DIGITS);
        let before_word = bytes.get(end).copied().is_some_and(is_word);
        if long_enough && !before_word && !is_date(run) && !is_ipv4(run) {
            spans.push(index..end);
        }
        index = end.max(index + 1);
    }
    replace_spans(text, &spans, PHONE_MASK)
}

/// `2026-04-07`
fn is_date(run: &str) -> bool {
    let parts: Vec<&str> = run.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2)
        && run.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// `10.0.0.12`
fn is_ipv4(run: &str) -> bool {
    let parts: Vec<&str> = run.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Replaces byte ranges (ascending, disjoint, on ASCII boundaries) with `mask`.
fn replace_spans<'a>(text: &'a str, spans: &[std::ops::Range<usize>], mask: &str) -> Cow<'a, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for span in spans {
        out.push_str(text.get(copied..span.start).unwrap_or(""));
        out.push_str(mask);
        copied = span.end;
    }
    out.push_str(text.get(copied..).unwrap_or(""));
    Cow::Owned(out)
}

/// Decodes `%XX` escapes (invalid UTF-8 is replaced); other bytes are kept.
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                index += 3;
            }
            None => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_masked() {
        assert_eq!(
            redact("no account for jordan.doe+x@example.org."),
            "no account for <email>."
        );
        assert_eq!(redact("a@b.co and c@d.io"), "<email> and <email>");
        assert_eq!(
            redact("user@localhost or @handle"),
            "user@localhost or @handle"
        );
    }

    #[test]
    fn phone_numbers_in_their_usual_shapes_are_masked() {
        for phone in [
            "+12125550187",
            "+1 212 555 0187",
            "(212) 555-0187",
            "212.555.0187",
            "2125550187",
            "555-0187",
        ] {
            assert_eq!(redact(&format!("call {phone}, then")), "call <phone>, then");
        }
        assert_eq!(
            redact("/v1/accounts/A-1/windows?contact_point=+12125550187"),
            "/v1/accounts/A-1/windows?contact_point=<phone>"
        );
    }

    #[test]
    fn dates_addresses_ids_and_plain_numbers_are_kept() {
        for text in [
            "at 2026-04-07T18:00:00Z",
            "on 2026-04-07",
            "listening on 127.0.0.1:8080",
            "digest sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "body larger than 1048576 bytes",
            "rule us-federal.toml:12:5 max = 7",
            "account D-1001",
            "uuid 0195f2a1-7c3e-7d2a-9b1c-123456789012",
        ] {
            assert_eq!(redact(text), text);
        }
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn encoded_uris_are_decoded_before_masking() {
        assert_eq!(
            redact_uri("/v1/accounts/jordan.doe%40example.org?contact_point=%2B12125550187"),
            "/v1/accounts/<email>?contact_point=<phone>"
        );
        assert_eq!(redact_uri("/v1/accounts/A-1"), "/v1/accounts/A-1");
        assert_eq!(redact_uri("/odd%zz%4"), "/odd%zz%4");
    }
}
