//! "Did you mean …?" help for misspelt names in rule packs and requests.

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            let score = strsim::jaro_winkler(&word_lower, &candidate.to_ascii_lowercase());
            (candidate, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| candidate)
}

/// Help for serde's "unknown field `x`, expected one of `a`, `b`" and "unknown variant
/// `x`, expected `a` or `b`" messages: the expected name closest to the unknown one.
pub fn unknown_name_help(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (name, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(name, candidates.iter().copied()).map(|best| format!("did you mean `{best}`?"))
}

/// Parses an IANA time zone name, suggesting the closest real one on a typo.
pub fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
        match did_you_mean(name, names) {
            Some(best) => format!("unknown time zone `{name}`; did you mean `{best}`?"),
            None => {
                format!("unknown time zone `{name}`; use an IANA name such as `America/New_York`")
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_zone_suggests_the_real_one() {
        let message = parse_time_zone("America/Chicgo").unwrap_err();
        assert!(
            message.contains("did you mean `America/Chicago`"),
            "{message}"
        );
    }

    #[test]
    fn serde_unknown_names_get_the_closest_expected_one() {
        assert_eq!(
            unknown_name_help("unknown field `listn`, expected one of `listen`, `open_evaluate`")
                .as_deref(),
            Some("did you mean `listen`?")
        );
        assert_eq!(
            unknown_name_help("unknown variant `jsn`, expected `text` or `json`").as_deref(),
            Some("did you mean `json`?")
        );
        assert_eq!(unknown_name_help("invalid type: integer"), None);
    }

    #[test]
    fn a_far_off_word_gets_no_suggestion() {
        assert_eq!(did_you_mean("zzzzqqq", ["call", "email"]), None);
    }
}
