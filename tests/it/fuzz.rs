//! The parsers never panic on input (issue 10): arbitrary bytes and structured mutations
//! of the shipped packs (`rules/*.toml`, through `Policy::from_sources`) and of the
//! example request (`examples/decide-request.json`, through `DecideRequest::from_json`,
//! then `engine::decide` on whatever parses), and of the lines `dunner import` reads
//! (`examples/accounts.jsonl`, `examples/events.jsonl`). A panic fails the test with the
//! input printed; a parse error must name a place (a pack error its file and line, a request
//! error its field or the line and column of the JSON).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use dunner::Policy;
use dunner::engine::{DecideRequest, decide};
use dunner::policy::{PolicyError, SourceFile};
use proptest::prelude::*;

use crate::helpers::{SHIPPED, rules_dir};

/// The shipped packs (not their tests), as (file name, text).
static PACKS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let mut packs: Vec<(String, String)> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "toml")
                && !path.to_string_lossy().ends_with(".tests.toml")
        })
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    packs.sort();
    assert!(packs.len() >= 4, "the shipped packs: {packs:?}");
    packs
});

/// The example request of the README.
const REQUEST: &str = include_str!("../../examples/decide-request.json");

/// The example placement and history of `dunner import`, one JSON document a line.
const ACCOUNTS: &str = include_str!("../../examples/accounts.jsonl");
const EVENTS: &str = include_str!("../../examples/events.jsonl");

/// Odd values for a TOML value position, written as TOML (some deliberately not TOML).
const ODD_TOML_VALUES: &[&str] = &[
    "99999999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "4294967296",
    "-1",
    "0",
    "1e308",
    "nan",
    "-inf",
    "-262143-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "\"-262143-01-01T00:00:00Z\"",
    "\"+10000-01-01T00:00:00Z\"",
    "9999-12-31",
    "0001-01-01",
    "\"9999-12-31\"",
    "\"\\u0000\"",
    "\"a\\u0000b\"",
    "\"\u{0}\"",
    "\"24:00\"",
    "\"25:61\"",
    "\"99999999999999999999h\"",
    "\"-5m\"",
    "\"0d\"",
    "\"\"",
    "[]",
    "[[]]",
    "{}",
    "true",
    "\"Mars/Olympus_Mons\"",
];

/// Odd values for a JSON value position, written as JSON (some deliberately not JSON),
/// out-of-range instants among them.
const ODD_JSON_VALUES: &[&str] = &[
    "\"-262143-01-01T00:00:00Z\"",
    "\"+10000-01-01T00:00:00Z\"",
    "\"+262142-12-31T23:59:59Z\"",
    "\"9999-12-31T23:59:59Z\"",
    "99999999999999999999999",
    "-99999999999999999999999",
    "18446744073709551616",
    "4294967296",
    "-1",
    "0",
    "1e999",
    "-0.0",
    "NaN",
    "\"2026-04-07T18:00:00+25:00\"",
    "\"\\u0000\"",
    "\"+1212555\\u00000100\"",
    "\"\u{0}\"",
    "\"\\ud800\"",
    "\"24:00\"",
    "\"Etc/GMT+14\"",
    "\"\"",
    "null",
    "true",
    "[]",
    "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
    "{}",
];

/// Out-of-range instants: beyond chrono's range, or at its very edges.
const OUT_OF_RANGE_INSTANTS: &[&str] = &[
    "-262143-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "+262142-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
];

/// Runs `f`, turning a panic into a test failure that prints `input`.
fn no_panic<T>(what: &str, input: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
            .unwrap_or_default();
        TestCaseError::fail(format!("{what} panicked ({message}) on {input:?}"))
    })
}

/// Pack errors that may name no line (none since duplicate pack ids point at their `id`).
const PLACELESS_CODES: &[&str] = &[];

/// Compiles `files`: never a panic; every error names its file and line.
fn check_packs(files: &[(String, String)]) -> Result<(), TestCaseError> {
    let sources = files
        .iter()
        .map(|(name, text)| SourceFile::new(name.as_str(), text.as_str()))
        .collect();
    let input = || format!("{files:?}");
    match no_panic("Policy::from_sources", &input(), || {
        Policy::from_sources(sources)
    })? {
        Ok(_) => Ok(()),
        Err(PolicyError::Invalid(diagnostics)) => {
            let placed = diagnostics
                .iter()
                .filter(|d| d.is_error() && !PLACELESS_CODES.contains(&d.code));
            for diagnostic in placed {
                prop_assert!(
                    !diagnostic.file.is_empty() && diagnostic.line.is_some(),
                    "an error without a place: {diagnostic:?} on {}",
                    input()
                );
            }
            Ok(())
        }
        Err(error) => Err(TestCaseError::fail(format!(
            "not a diagnostic: {error} on {}",
            input()
        ))),
    }
}

/// One pack on its own, then in place of its original beside the other shipped packs.
fn check_pack(index: usize, text: &str) -> Result<(), TestCaseError> {
    let (name, _) = &PACKS[index];
    check_packs(&[(name.clone(), text.to_string())])?;
    let mut files = PACKS.clone();
    files[index].1 = text.to_string();
    check_packs(&files)
}

/// Parses `text` as a decide request and decides it when it parses: never a panic; a
/// parse error names its field, or the line and column of malformed JSON.
fn check_request(text: &str) -> Result<(), TestCaseError> {
    match no_panic("DecideRequest::from_json", text, || {
        DecideRequest::from_json(text)
    })? {
        Ok(request) => {
            no_panic("engine::decide", text, || decide(&SHIPPED, &request))?;
        }
        Err(error) => {
            // A place: the field, the line and column of malformed JSON, a field named in
            // the message (`missing field `at``), or the document itself when it is not
            // an object at all ("invalid type: string, expected struct DecideRequest").
            let named = !error.field.is_empty()
                || error.message.contains(" at line ")
                || error.message.contains('`')
                || (error.message.starts_with("invalid type:")
                    && error.message.ends_with("expected struct DecideRequest"));
            prop_assert!(named, "an error without a place: {error:?} on {text:?}");
        }
    }
    Ok(())
}

/// A parse error names a place: its field, the line and column of malformed JSON, or a
/// field named in its message.
fn names_a_place(field: &str, message: &str) -> bool {
    !field.is_empty() || message.contains(" at line ") || message.contains('`')
}

/// Parses one line of the placement file as `dunner import` and the API do: never a
/// panic; an error names a place.
fn check_account_line(text: &str) -> Result<(), TestCaseError> {
    if let Err(error) = no_panic("parse_json::<Account>", text, || {
        dunner::engine::parse_json::<dunner::domain::Account>(text.as_bytes())
    })? {
        prop_assert!(
            names_a_place(&error.field, &error.message),
            "an error without a place: {error:?} on {text:?}"
        );
    }
    Ok(())
}

/// Parses one line of the history file (without its `account_id`) and validates the
/// event: never a panic; an error names a place.
fn check_event_line(text: &str) -> Result<(), TestCaseError> {
    let parsed = no_panic("parse_json::<LedgerEvent>", text, || {
        dunner::engine::parse_json::<dunner::domain::LedgerEvent>(text.as_bytes())
    })?;
    match parsed {
        Ok(event) => {
            no_panic("LedgerEvent::validate", text, || event.validate())?.ok();
        }
        Err(error) => prop_assert!(
            names_a_place(&error.field, &error.message),
            "an error without a place: {error:?} on {text:?}"
        ),
    }
    Ok(())
}

/// The char boundary at or before `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// `text` with the value of its `n`th `key = value` line replaced by `value`.
fn replace_toml_value(text: &str, n: usize, value: &str) -> String {
    let candidates: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains(" = "))
        .map(|(i, _)| i)
        .collect();
    let target = candidates[n % candidates.len()];
    text.lines()
        .enumerate()
        .map(|(i, line)| match line.split_once(" = ") {
            Some((key, _)) if i == target => format!("{key} = {value}"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The JSON pointers of every leaf of `json` (a scalar, an empty array or object).
fn json_leaves(json: &str) -> Vec<String> {
    fn walk(value: &serde_json::Value, pointer: String, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{pointer}/{i}"), out);
                }
            }
            serde_json::Value::Object(fields) if !fields.is_empty() => {
                for (key, field) in fields {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    walk(field, format!("{pointer}/{key}"), out);
                }
            }
            _ => out.push(pointer),
        }
    }
    let mut out = Vec::new();
    walk(
        &serde_json::from_str(json).unwrap(),
        String::new(),
        &mut out,
    );
    out
}

/// `json` with its `n`th leaf replaced by `raw`, written verbatim (so it may be a huge
/// number or not JSON at all).
fn replace_json_leaf(json: &str, n: usize, raw: &str) -> String {
    const PLACEHOLDER: &str = "\u{1}ODD\u{1}";
    let leaves = json_leaves(json);
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    *value.pointer_mut(&leaves[n % leaves.len()]).unwrap() =
        serde_json::Value::String(PLACEHOLDER.to_string());
    let placeholder = serde_json::to_string(PLACEHOLDER).unwrap();
    serde_json::to_string_pretty(&value)
        .unwrap()
        .replacen(&placeholder, raw, 1)
}

#[test]
fn the_shipped_packs_and_the_example_request_pass_the_checks_unchanged() {
    check_packs(&PACKS).unwrap();
    check_request(REQUEST).unwrap();
}

#[test]
fn every_prefix_of_every_shipped_pack_compiles_or_names_a_place() {
    for (index, (_, text)) in PACKS.iter().enumerate() {
        for end in (0..=text.len()).filter(|&end| text.is_char_boundary(end)) {
            let (name, _) = &PACKS[index];
            check_packs(&[(name.clone(), text[..end].to_string())]).unwrap();
        }
    }
}

#[test]
fn every_prefix_of_the_example_request_parses_or_names_a_place() {
    for end in (0..=REQUEST.len()).filter(|&end| REQUEST.is_char_boundary(end)) {
        check_request(&REQUEST[..end]).unwrap();
    }
}

#[test]
fn an_out_of_range_instant_in_a_pack_never_panics() {
    for (index, (_, text)) in PACKS.iter().enumerate() {
        let lines = text.lines().filter(|line| line.contains(" = ")).count();
        let (name, _) = &PACKS[index];
        // Each pack alone (beside the others it takes twice as long and finds the same).
        for n in 0..lines {
            for instant in OUT_OF_RANGE_INSTANTS {
                for value in [instant.to_string(), format!("{instant:?}")] {
                    let text = replace_toml_value(text, n, &value);
                    check_packs(&[(name.clone(), text)]).unwrap();
                }
            }
        }
    }
}

#[test]
fn a_pack_id_used_twice_is_reported_at_its_line() {
    let (name, text) = &PACKS[0];
    let files = [
        (name.clone(), text.clone()),
        ("copy.toml".to_string(), text.clone()),
    ];
    let sources = files
        .iter()
        .map(|(name, text)| SourceFile::new(name.as_str(), text.as_str()))
        .collect();
    let Err(PolicyError::Invalid(diagnostics)) = Policy::from_sources(sources) else {
        panic!("a pack id used twice is an error");
    };
    let duplicate = diagnostics
        .iter()
        .find(|d| d.code == "rules::duplicate-id")
        .unwrap();
    assert!(duplicate.line.is_some(), "{duplicate:?}");
}

#[test]
fn an_out_of_range_instant_anywhere_in_a_request_never_panics() {
    for n in 0..json_leaves(REQUEST).len() {
        for instant in OUT_OF_RANGE_INSTANTS {
            check_request(&replace_json_leaf(REQUEST, n, &format!("{instant:?}"))).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        check_packs(&[("fuzz.toml".to_string(), text.to_string())])?;
        check_request(&text)?;
    }

    #[test]
    fn byte_flips_in_a_shipped_pack_never_panic(
        index in 0..4usize,
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1..=255u8), 1..8),
    ) {
        let mut bytes = PACKS[index % PACKS.len()].1.clone().into_bytes();
        for (at, mask) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        check_pack(index % PACKS.len(), &String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn byte_flips_in_the_example_request_never_panic(
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1..=255u8), 1..8),
    ) {
        let mut bytes = REQUEST.as_bytes().to_vec();
        for (at, mask) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        check_request(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn a_splice_of_two_shipped_packs_never_panics(
        first in 0..4usize,
        second in 0..4usize,
        cut in any::<proptest::sample::Index>(),
        resume in any::<proptest::sample::Index>(),
    ) {
        let (head, tail) = (&PACKS[first % PACKS.len()].1, &PACKS[second % PACKS.len()].1);
        let cut = floor_boundary(head, cut.index(head.len() + 1));
        let resume = floor_boundary(tail, resume.index(tail.len() + 1));
        let spliced = format!("{}{}", &head[..cut], &tail[resume..]);
        check_pack(first % PACKS.len(), &spliced)?;
    }

    #[test]
    fn an_odd_value_in_a_shipped_pack_never_panics(
        index in 0..4usize,
        line in any::<usize>(),
        value in proptest::sample::select(ODD_TOML_VALUES),
    ) {
        let text = replace_toml_value(&PACKS[index % PACKS.len()].1, line, value);
        check_pack(index % PACKS.len(), &text)?;
    }

    #[test]
    fn an_odd_value_in_the_example_request_never_panics(
        leaf in any::<usize>(),
        value in proptest::sample::select(ODD_JSON_VALUES),
    ) {
        check_request(&replace_json_leaf(REQUEST, leaf, value))?;
    }

    #[test]
    fn an_odd_value_in_an_example_ledger_line_never_panics(
        line in any::<proptest::sample::Index>(),
        leaf in any::<usize>(),
        value in proptest::sample::select(ODD_JSON_VALUES),
        instant in proptest::sample::select(OUT_OF_RANGE_INSTANTS),
    ) {
        let accounts: Vec<&str> = ACCOUNTS.lines().filter(|l| !l.trim().is_empty()).collect();
        let account = accounts[line.index(accounts.len())];
        check_account_line(&replace_json_leaf(account, leaf, value))?;
        check_account_line(&replace_json_leaf(account, leaf, &format!("{instant:?}")))?;
        let events: Vec<String> = EVENTS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut event: serde_json::Value = serde_json::from_str(l).unwrap();
                event.as_object_mut().unwrap().remove("account_id");
                event.to_string()
            })
            .collect();
        let event = &events[line.index(events.len())];
        check_event_line(&replace_json_leaf(event, leaf, value))?;
        check_event_line(&replace_json_leaf(event, leaf, &format!("{instant:?}")))?;
    }

    #[test]
    fn nul_characters_never_panic_a_parser(
        index in 0..4usize,
        at in proptest::collection::vec(any::<proptest::sample::Index>(), 1..4),
    ) {
        let mut pack = PACKS[index % PACKS.len()].1.clone();
        let mut request = REQUEST.to_string();
        for at in at {
            let i = floor_boundary(&pack, at.index(pack.len() + 1));
            pack.insert(i, '\0');
            let i = floor_boundary(&request, at.index(request.len() + 1));
            request.insert(i, '\0');
        }
        check_pack(index % PACKS.len(), &pack)?;
        check_request(&request)?;
    }
}

/// Found by `an_odd_value_in_a_shipped_pack_never_panics`: an empty `collectors` (or
/// `postal_codes`) list was refused without a place; it is named at `[pack.scope]`.
#[test]
fn an_empty_scope_list_is_reported_at_the_scope() {
    for list in ["collectors", "postal_codes"] {
        let (name, text) = &PACKS[0];
        let text = text.replacen("[pack.scope]\n", &format!("[pack.scope]\n{list} = []\n"), 1);
        let text = if list == "collectors" {
            text.replacen("collectors = [\"agency\", \"debt_buyer\"]\n", "", 1)
        } else {
            text
        };
        let sources = vec![SourceFile::new(name.as_str(), text.as_str())];
        let Err(PolicyError::Invalid(diagnostics)) = Policy::from_sources(sources) else {
            panic!("an empty `{list}` is an error");
        };
        let never = diagnostics
            .iter()
            .find(|d| d.code == "rules::never-applies")
            .unwrap_or_else(|| panic!("{list}: {diagnostics:?}"));
        assert!(never.line.is_some(), "{never:?}");
    }
}
