//! Bad rule files get every error, each at its place, never a panic.

use dunner::policy::{Diagnostic, PolicyError};
use proptest::prelude::*;

use crate::helpers::{MINIMAL_PACK, compile};

fn errors(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    match compile(files) {
        Err(PolicyError::Invalid(diagnostics)) => {
            diagnostics.into_iter().filter(|d| d.is_error()).collect()
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the packs were accepted"),
    }
}

fn codes(diagnostics: &[Diagnostic]) -> Vec<&'static str> {
    diagnostics.iter().map(|d| d.code).collect()
}

const CAP: &str = r#"
[[cap]]
id = "test.cap"
citation = "none"
message = "cap"
channels = ["call"]
max = 7
calendar_days = 7
"#;

#[test]
fn the_minimal_pack_is_valid() {
    let policy = compile(&[("ok.toml", MINIMAL_PACK)]).unwrap();
    assert_eq!(policy.rules().len(), 1);
}

#[test]
fn two_bad_rules_in_one_file_are_both_reported() {
    let text = format!(
        "{MINIMAL_PACK}{}{}",
        CAP.replace("max = 7", "max = 0"),
        CAP.replace("test.cap", "test.cap2")
            .replace("calendar_days = 7", "calendar_days = 7\nrolling = \"30d\"")
    );
    let found = errors(&[("two.toml", &text)]);
    assert_eq!(
        codes(&found),
        vec!["rules::cap-of-zero", "rules::conflicting-keys"],
        "{found:#?}"
    );
    assert_eq!(found[0].line, Some(20));
}

#[test]
fn a_wrong_type_is_reported_at_the_value() {
    let found = errors(&[(
        "t.toml",
        &format!(
            "{MINIMAL_PACK}{}",
            CAP.replace("max = 7", "max = \"seven\"")
        ),
    )]);
    assert_eq!(codes(&found), vec!["rules::wrong-type"]);
    assert_eq!((found[0].line, found[0].column), (Some(20), Some(7)));
    assert!(
        found[0].message.contains("invalid type"),
        "{}",
        found[0].message
    );
}

#[test]
fn an_inverted_window_is_an_error_with_help() {
    let found = errors(&[(
        "w.toml",
        &MINIMAL_PACK.replace(
            "from = \"08:00\", to = \"21:00\"",
            "from = \"21:00\", to = \"08:00\"",
        ),
    )]);
    assert_eq!(codes(&found), vec!["rules::empty-window"]);
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap()
            .contains("crosses midnight")
    );
}

#[test]
fn a_bad_time_of_day_says_how_to_write_one() {
    let found = errors(&[("w.toml", &MINIMAL_PACK.replace("\"08:00\"", "\"8am\""))]);
    assert!(found[0].message.contains("HH:MM"), "{}", found[0].message);
}

#[test]
fn duplicate_rule_ids_across_files_point_at_the_first() {
    let other = MINIMAL_PACK.replace("id = \"test\"", "id = \"other\"");
    let found = errors(&[("a.toml", MINIMAL_PACK), ("b.toml", &other)]);
    assert_eq!(codes(&found), vec!["rules::duplicate-id"]);
    assert_eq!(found[0].file, "b.toml");
    assert!(
        found[0].help.as_deref().unwrap().contains("a.toml:9:6"),
        "{:?}",
        found[0].help
    );
}

#[test]
fn rules_that_can_never_apply_are_errors() {
    let no_channels = MINIMAL_PACK.replace("channels = [\"call\"]", "channels = []");
    assert_eq!(
        codes(&errors(&[("a.toml", &no_channels)])),
        vec!["rules::never-applies"]
    );
    let every_purpose = MINIMAL_PACK.replace(
        "channels = [\"call\"]",
        "channels = [\"call\"]\npurposes = [\"collection\"]\nexcept_purposes = [\"collection\"]",
    );
    assert_eq!(
        codes(&errors(&[("a.toml", &every_purpose)])),
        vec!["rules::never-applies"]
    );
    let wrong_kind = MINIMAL_PACK.replace(
        "channels = [\"call\"]",
        "channels = [\"call\"]\nwhen = { contact_point_kinds = [\"work_email\"] }",
    );
    assert_eq!(
        codes(&errors(&[("a.toml", &wrong_kind)])),
        vec!["rules::never-applies"]
    );
    let out_of_pack = MINIMAL_PACK
        .replace(
            "citation = \"none\"\n\n",
            "citation = \"none\"\neffective_until = 2025-01-01\n\n",
        )
        .replace("allow = [", "effective_from = 2026-01-01\nallow = [");
    assert_eq!(
        codes(&errors(&[("a.toml", &out_of_pack)])),
        vec!["rules::never-applies"]
    );
}

#[test]
fn unknown_names_get_a_suggestion() {
    let text = format!(
        "{MINIMAL_PACK}\n[[hold]]\nid = \"test.hold\"\ncitation = \"x\"\nmessage = \"x\"\nchannels = [\"call\"]\nflag = \"cease_and_desit\"\n"
    );
    let found = errors(&[("h.toml", &text)]);
    assert_eq!(codes(&found), vec!["rules::unknown-value"]);
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap()
            .contains("did you mean `cease_and_desist`?")
    );
    let outcome = format!(
        "{MINIMAL_PACK}{}",
        CAP.replace(
            "calendar_days = 7",
            "calendar_days = 7\ncount = { outcomes = [\"voicemial\"] }"
        )
    );
    let found = errors(&[("o.toml", &outcome)]);
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap()
            .contains("did you mean `voicemail`?"),
        "{found:#?}"
    );
    let state = MINIMAL_PACK.replace(
        "citation = \"none\"\n\n",
        "citation = \"none\"\nscope = { states = [\"MX\"] }\n\n",
    );
    assert_eq!(
        codes(&errors(&[("s.toml", &state)])),
        vec!["rules::unknown-value"]
    );
}

#[test]
fn an_unknown_window_time_zone_suggests_the_real_one() {
    let text = MINIMAL_PACK.replace("allow = [", "time_zone = \"America/New_Yrok\"\nallow = [");
    let found = errors(&[("z.toml", &text)]);
    assert_eq!(codes(&found), vec!["rules::unknown-value"]);
    assert!(
        found[0]
            .message
            .contains("did you mean `America/New_York`?"),
        "{}",
        found[0].message
    );
    assert_eq!(found[0].line, Some(13));
}

#[test]
fn a_cap_counting_only_consumer_initiated_contacts_is_refused() {
    let text = format!(
        "{MINIMAL_PACK}{}",
        CAP.replace(
            "calendar_days = 7",
            "calendar_days = 7\ncount = { initiated_by = \"consumer\" }"
        )
    );
    let found = errors(&[("c.toml", &text)]);
    assert_eq!(codes(&found), vec!["rules::never-applies"]);
    assert!(
        found[0].message.contains("consumer-initiated"),
        "{}",
        found[0].message
    );
}

#[test]
fn keys_of_another_rule_kind_are_rejected() {
    let text = MINIMAL_PACK.replace("allow = [", "max = 3\nallow = [");
    let found = errors(&[("k.toml", &text)]);
    assert_eq!(codes(&found), vec!["rules::unknown-key"]);
    assert!(
        found[0]
            .message
            .contains("`max` does not belong in a `window` rule")
    );
}

#[test]
fn an_unknown_top_level_table_and_a_missing_pack_are_reported() {
    let found = errors(&[(
        "x.toml",
        &MINIMAL_PACK
            .replace("[[window]]", "[[windows]]")
            .replace("[pack]", "[pak]"),
    )]);
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert!(
        found
            .iter()
            .any(|d| d.help.as_deref() == Some("did you mean `window`?")),
        "{messages:?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d.help.as_deref() == Some("did you mean `pack`?")),
        "{messages:?}"
    );
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let found = errors(&[("s.toml", "[pack]\nid = \"x\nversion = 1\n")]);
    assert_eq!(found[0].code, "rules::syntax");
    assert_eq!(found[0].line, Some(2));
}

#[test]
fn an_overlay_looser_than_the_floor_is_a_warning_not_an_error() {
    let overlay = MINIMAL_PACK
        .replace("id = \"test\"", "id = \"state\"")
        .replace(
            "citation = \"none\"\n\n",
            "citation = \"none\"\nscope = { states = [\"WA\"] }\n\n",
        )
        .replace("test.hours", "state.hours")
        .replace("\"08:00\"", "\"07:30\"");
    let policy = compile(&[("floor.toml", MINIMAL_PACK), ("state.toml", &overlay)]).unwrap();
    let warning = &policy.warnings()[0];
    assert_eq!(warning.code, "rules::looser-than-floor");
    assert!(
        warning.message.contains("07:30–08:00"),
        "{}",
        warning.message
    );
}

/// A city pack with its dates and hand-over written into `[pack]`.
fn city_pack(id: &str, dates: &str) -> String {
    format!(
        "[pack]\nid = \"{id}\"\ntitle = \"t\"\nversion = \"1\"\ncitation = \"none\"\n{dates}\n[pack.scope]\nstates = [\"NY\"]\ncities = [\"Brooklyn\"]\n\n[[window]]\nid = \"{id}.hours\"\ncitation = \"none\"\nmessage = \"hours\"\nchannels = [\"call\"]\nallow = [{{ from = \"08:00\", to = \"21:00\" }}]\n"
    )
}

#[test]
fn a_gap_between_one_jurisdictions_packs_is_a_warning_at_the_later_start() {
    let old = city_pack("old", "effective_until = 2026-08-31");
    let new = city_pack("new", "effective_from = 2026-10-01");
    let policy = compile(&[("old.toml", &old), ("new.toml", &new)]).unwrap();
    let gaps: Vec<_> = policy
        .warnings()
        .iter()
        .filter(|w| w.code == "rules::effective-gap")
        .collect();
    assert_eq!(gaps.len(), 1, "{:#?}", policy.warnings());
    assert_eq!(gaps[0].file, "new.toml");
    assert_eq!(gaps[0].line, Some(6), "at `effective_from`");
    assert!(
        gaps[0].message.contains("from 2026-09-01 to 2026-09-30"),
        "{}",
        gaps[0].message
    );
}

#[test]
fn packs_that_hand_over_with_superseded_by_leave_no_gap_and_no_overlap() {
    let old = city_pack("old", "superseded_by = \"new\"");
    let new = city_pack("new", "effective_from = 2026-10-01");
    let policy = compile(&[("old.toml", &old), ("new.toml", &new)]).unwrap();
    assert!(policy.warnings().is_empty(), "{:#?}", policy.warnings());
    let old = policy.packs().iter().find(|p| p.id == "old").unwrap();
    assert_eq!(
        old.effective.until,
        chrono::NaiveDate::from_ymd_opt(2026, 9, 30)
    );
    // Another state's pack ending early is not this jurisdiction's gap.
    let other = city_pack("other", "effective_until = 2026-01-31").replace("\"NY\"", "\"NJ\"");
    let policy = compile(&[("new.toml", &new), ("other.toml", &other)]).unwrap();
    assert!(policy.warnings().is_empty(), "{:#?}", policy.warnings());
}

#[test]
fn a_hand_over_to_a_missing_or_undated_pack_is_an_error() {
    let old = city_pack("old", "superseded_by = \"nowhere\"");
    let found = errors(&[("old.toml", &old)]);
    assert_eq!(codes(&found), vec!["rules::unknown-pack"], "{found:#?}");
    assert_eq!(found[0].line, Some(6));

    let old = city_pack("old", "superseded_by = \"new\"");
    let undated = city_pack("new", "");
    let found = errors(&[("old.toml", &old), ("new.toml", &undated)]);
    assert_eq!(codes(&found), vec!["rules::never-applies"], "{found:#?}");

    let both = city_pack(
        "old",
        "superseded_by = \"new\"\neffective_until = 2026-09-30",
    );
    let found = errors(&[("old.toml", &both)]);
    assert_eq!(codes(&found), vec!["rules::conflicting-keys"], "{found:#?}");
}

#[test]
fn an_unknown_collector_in_a_scope_is_an_error_with_a_suggestion() {
    let pack = MINIMAL_PACK.replace(
        "citation = \"none\"\n\n",
        "citation = \"none\"\nscope = { collectors = [\"agencies\"] }\n\n",
    );
    let found = errors(&[("c.toml", &pack)]);
    assert_eq!(codes(&found), vec!["rules::unknown-value"], "{found:#?}");
    assert!(
        found[0].help.as_deref().unwrap_or("").contains("`agency`"),
        "{found:#?}"
    );
}

#[test]
fn the_recent_use_exemption_belongs_to_holds_and_is_a_number_of_days() {
    let misplaced = format!(
        "{MINIMAL_PACK}{}",
        CAP.replace("max = 7", "max = 7\nunless_consumer_used_days = 60")
    );
    let found = errors(&[("m.toml", &misplaced)]);
    assert_eq!(codes(&found), vec!["rules::unknown-key"], "{found:#?}");
    let hold = "\n[[hold]]\nid = \"test.hold\"\ncitation = \"none\"\nmessage = \"hold\"\nchannels = [\"email\"]\nflag = \"no_consent\"\nunless_consumer_used_days = 0\n";
    let found = errors(&[("h.toml", &format!("{MINIMAL_PACK}{hold}"))]);
    assert_eq!(codes(&found), vec!["rules::out-of-range"], "{found:#?}");
    let valid = hold.replace("= 0", "= 60");
    let policy = compile(&[("h.toml", &format!("{MINIMAL_PACK}{valid}"))]).unwrap();
    let rule = policy.rules().iter().find(|r| r.id == "test.hold").unwrap();
    assert_eq!(rule.unless_consumer_used_days, Some(60));
}

#[test]
fn an_empty_directory_is_an_error_not_an_empty_policy() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        dunner::Policy::load(dir.path()),
        Err(PolicyError::Invalid(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_the_compiler(text in "\\PC{0,400}") {
        let _ = compile(&[("fuzz.toml", &text)]);
    }

    #[test]
    fn a_mutated_valid_pack_never_panics_the_compiler(position in 0usize..300, insert in "[\\[\\]=\"a-z0-9 ,{}.\\n-]{0,12}") {
        let mut text = MINIMAL_PACK.to_string();
        let position = position.min(text.len());
        if text.is_char_boundary(position) {
            text.insert_str(position, &insert);
        }
        let _ = compile(&[("mutated.toml", &text)]);
    }
}

/// A cap of `max` calls in `days` rolling days, with an optional extra line.
fn cap(id: &str, max: u32, days: u32, extra: &str) -> String {
    format!(
        "\n[[cap]]\nid = \"{id}\"\ncitation = \"none\"\nmessage = \"cap\"\nchannels = [\"call\"]\nmax = {max}\nrolling = \"{days}d\"\n{extra}\n"
    )
}

fn shadowed(policy_files: &[(&str, &str)]) -> Vec<String> {
    let policy = compile(policy_files).unwrap();
    policy
        .warnings()
        .iter()
        .filter(|w| w.code == "rules::shadowed")
        .map(|w| w.message.clone())
        .collect()
}

#[test]
fn a_cap_another_cap_of_the_same_scope_always_beats_is_shadowed() {
    let pack = format!(
        "{MINIMAL_PACK}{}{}",
        cap("test.loose", 3, 7, ""),
        cap("test.strict", 2, 14, "")
    );
    let found = shadowed(&[("p.toml", &pack)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("rule `test.loose` never refuses alone: rule `test.strict`"),
        "{}",
        found[0]
    );
    // A shorter period, a narrower count or a condition the other lacks: no warning.
    for strict in [
        cap("test.strict", 2, 3, ""),
        cap(
            "test.strict",
            2,
            14,
            "when = { flags = [\"attorney_represented\"] }",
        ),
        cap(
            "test.strict",
            2,
            14,
            "count = { channels = [\"call\"], outcomes = [\"conversation\"] }",
        ),
    ] {
        let pack = format!("{MINIMAL_PACK}{}{strict}", cap("test.loose", 3, 7, ""));
        assert!(shadowed(&[("p.toml", &pack)]).is_empty(), "{strict}");
    }
}

#[test]
fn only_rules_of_the_same_scope_shadow_each_other() {
    let floor = format!("{MINIMAL_PACK}{}", cap("test.loose", 3, 7, ""));
    let state = format!(
        "[pack]\nid = \"state\"\ntitle = \"t\"\nversion = \"1\"\ncitation = \"none\"\nscope = {{ states = [\"MA\"] }}\n{}",
        cap("state.strict", 2, 7, "")
    );
    assert!(shadowed(&[("floor.toml", &floor), ("state.toml", &state)]).is_empty());
    // The same rule written twice: the later copy is the one reported.
    let twice = format!(
        "{MINIMAL_PACK}{}{}",
        cap("test.first", 2, 7, ""),
        cap("test.second", 2, 7, "")
    );
    let found = shadowed(&[("p.toml", &twice)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("rule `test.second`"), "{}", found[0]);
}

#[test]
fn a_window_inside_another_shadows_it_and_warnings_come_with_errors() {
    let pack = MINIMAL_PACK.to_string()
        + "\n[[window]]\nid = \"test.narrow\"\ncitation = \"none\"\nmessage = \"narrow\"\nchannels = [\"call\"]\nallow = [{ from = \"09:00\", to = \"20:00\" }]\n";
    let found = shadowed(&[("p.toml", &pack)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("rule `test.hours`"), "{}", found[0]);
    // One run reports the error of one pack and the warning of another.
    let broken = "[pack]\nid = \"broken\"\ntitle = \"t\"\nversion = \"1\"\n";
    match compile(&[("p.toml", &pack), ("broken.toml", broken)]) {
        Err(PolicyError::Invalid(diagnostics)) => {
            assert!(diagnostics.iter().any(|d| d.is_error()));
            assert!(
                diagnostics.iter().any(|d| d.code == "rules::shadowed"),
                "{diagnostics:#?}"
            );
        }
        other => panic!("the broken pack was accepted: {:?}", other.map(|_| ())),
    }
}
