//! Accounts: one debt in collection, its consumer, contact points and flags.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::{Channel, Money};

/// The longest account id, in characters.
pub const MAX_ACCOUNT_ID_LEN: usize = 128;

/// Ids that name a route under `/v1/accounts/` and so could never be reached.
const RESERVED_ACCOUNT_IDS: &[&str] = &["bulk"];

/// Checks the syntax of an account id: 1 to 128 characters, each an ASCII letter, a
/// digit, `-`, `_`, `.` or `:`, starting with a letter or a digit, and not a reserved
/// word (`bulk`). The id appears in URL paths, file names of exports, log lines and
/// CSV cells, so it carries no spaces, control or bidirectional characters, slashes or
/// quotes; agencies' account numbers (`ACC-2026.0001`, `bank:1234`) fit.
pub fn check_account_id(id: &str) -> Result<(), String> {
    // Only a message quotes it: not built for the ids that pass.
    let shown = || excerpt(id);
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.chars().count() > MAX_ACCOUNT_ID_LEN {
        return Err(format!(
            "is longer than {MAX_ACCOUNT_ID_LEN} characters (`{}…`)",
            shown()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!(
            "`{}` contains `{}`: an account id has only ASCII letters, digits, `-`, `_`, `.` and `:`",
            shown(),
            bad.escape_debug()
        ));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("`{}` must start with a letter or a digit", shown()));
    }
    if RESERVED_ACCOUNT_IDS.contains(&id) {
        return Err(format!("`{id}` is reserved (it names a route)"));
    }
    Ok(())
}

/// The USPS codes of the states, the District of Columbia and the territories.
pub const US_STATES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "VI", "GU", "MP", "AS",
];

/// Checks a state code (any case, surrounding spaces ignored) against [`US_STATES`],
/// suggesting the nearest code.
pub fn check_state(state: &str) -> Result<(), String> {
    // Compared as two upper-case bytes, without allocating (a state on every account read).
    let trimmed = state.trim();
    if let &[first, second] = trimmed.as_bytes() {
        let code = [first.to_ascii_uppercase(), second.to_ascii_uppercase()];
        if US_STATES.iter().any(|known| known.as_bytes() == code) {
            return Ok(());
        }
    }
    let code = trimmed.to_ascii_uppercase();
    let help = crate::suggest::did_you_mean(&code, US_STATES)
        .map_or(String::new(), |best| format!("; did you mean `{best}`?"));
    Err(format!(
        "unknown state `{state}`: use a two-letter USPS code{help}"
    ))
}

fn deserialize_state<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let state = Option::<String>::deserialize(deserializer)?;
    if let Some(state) = &state {
        check_state(state).map_err(serde::de::Error::custom)?;
    }
    Ok(state)
}

fn deserialize_postal_code<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let code = Option::<String>::deserialize(deserializer)?;
    if let Some(code) = &code {
        check_postal_code(code).map_err(serde::de::Error::custom)?;
    }
    Ok(code)
}

/// Checks a ZIP code: five digits, or ZIP+4 (`11354-1234`), spaces around allowed.
pub fn check_postal_code(code: &str) -> Result<(), String> {
    let (zip, plus_four) = match code.trim().split_once('-') {
        Some((zip, plus_four)) => (zip, Some(plus_four)),
        None => (code.trim(), None),
    };
    let digits =
        |part: &str, count: usize| part.len() == count && part.bytes().all(|b| b.is_ascii_digit());
    if digits(zip, 5) && plus_four.is_none_or(|part| digits(part, 4)) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a ZIP code: write five digits (`11354`) or ZIP+4 (`11354-1234`)",
            excerpt(code)
        ))
    }
}

/// Checks a phone number's syntax: 7 to 15 digits, an optional leading `+`, and spaces,
/// dots, dashes or parentheses between them. The engine reads the area code from the
/// digits; a number it cannot read as digits would silently lose its zone and kind.
pub fn check_phone_number(number: &str) -> Result<(), String> {
    let shown = || excerpt(number);
    let body = number.trim().strip_prefix('+').unwrap_or(number.trim());
    if let Some(bad) = body
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')')))
    {
        return Err(format!(
            "`{}` is not a phone number: `{}` is neither a digit nor a separator (use E.164, e.g. `+12125550100`)",
            shown(),
            bad.escape_debug()
        ));
    }
    let digits = body.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return Err(format!(
            "`{}` is not a phone number: it has {digits} digits, not 7 to 15 (use E.164, e.g. `+12125550100`)",
            shown()
        ));
    }
    Ok(())
}

/// Checks an email address's syntax: one `@`, a local part, a domain with a dot, no
/// spaces or control characters, at most 254 characters. A contact point that is not an
/// address would never match the consumer's opt-outs and consents.
pub fn check_email_address(address: &str) -> Result<(), String> {
    let valid = address.len() <= 254
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain
                    .split_once('.')
                    .is_some_and(|(name, rest)| !name.is_empty() && !rest.is_empty())
                && !domain.ends_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an email address (expected `name@example.com`)",
            excerpt(address)
        ))
    }
}

fn deserialize_phone_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let number = String::deserialize(deserializer)?;
    check_phone_number(&number).map_err(serde::de::Error::custom)?;
    Ok(number)
}

fn deserialize_email_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let address = String::deserialize(deserializer)?;
    check_email_address(&address).map_err(serde::de::Error::custom)?;
    Ok(address)
}

/// The first 40 characters of an identifier as a message may quote it: control and
/// bidirectional characters escaped, so that the message shows what was sent.
pub fn excerpt(text: &str) -> String {
    text.chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// `deserialize_with` for an account id.
pub fn deserialize_account_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let id = String::deserialize(deserializer)?;
    check_account_id(&id).map_err(serde::de::Error::custom)?;
    Ok(id)
}

/// `deserialize_with` for an optional client id (the syntax of an account id).
fn deserialize_client_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let client = Option::<String>::deserialize(deserializer)?;
    if let Some(client) = &client {
        check_client_id(client).map_err(serde::de::Error::custom)?;
    }
    Ok(client)
}

/// Checks a client id: the syntax of an account id (it names API key limits,
/// configuration keys and report filters).
pub fn check_client_id(client: &str) -> Result<(), String> {
    check_account_id(client)
}

/// One debt in collection (Reg F counts calls per debt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Account {
    /// The account's identifier in the agency's systems: 1 to 128 ASCII letters, digits,
    /// `-`, `_`, `.` or `:`, starting with a letter or a digit; not `bulk`.
    #[serde(deserialize_with = "deserialize_account_id")]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
    )]
    pub id: String,
    /// The kind of debt (`credit_card`, `medical`, `student_loan`, ...); packs may be scoped to some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debt_type: Option<String>,
    /// The creditor the debt is owed to; overlay packs may be scoped to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creditor: Option<String>,
    /// The agency's client this account is collected for (a creditor or a debt buyer):
    /// API keys limited to clients see only their clients' accounts, and retention may
    /// be set per client. Same syntax as an account id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_client_id"
    )]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
    )]
    pub client: Option<String>,
    /// What is owed now (kept current by posted payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Money>,
    /// When the agency received the account.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::instant::deserialize_optional_date"
    )]
    #[schema(value_type = Option<crate::domain::instant::DateSchema>)]
    pub placed_on: Option<NaiveDate>,
    /// When the creditor charged the debt off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::instant::deserialize_optional_date"
    )]
    #[schema(value_type = Option<crate::domain::instant::DateSchema>)]
    pub charged_off_on: Option<NaiveDate>,
    /// When the agency closed the account (returned it to the client, settled it,
    /// recalled it): past its retention, a closed account's personal data may be purged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::instant::deserialize_optional_date"
    )]
    #[schema(value_type = Option<crate::domain::instant::DateSchema>)]
    pub closed_on: Option<NaiveDate>,
    /// The person who owes the debt.
    pub consumer: Consumer,
    /// Legal and consumer-stated conditions that restrict contact.
    #[serde(default)]
    pub flags: Flags,
    /// Channels, phone numbers or email addresses the consumer asked us not to use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opted_out: Vec<OptOut>,
    /// Times the consumer told us are inconvenient (12 CFR 1006.6(b)(1); comment 6(b)(1)-1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inconvenient_times: Vec<InconvenientTime>,
    /// Places the consumer told us are inconvenient (comment 6(b)(1)(ii)-1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inconvenient_places: Vec<Place>,
    /// Who collects this debt, when it differs from `[rules] collector` in the
    /// configuration. Packs scoped by `collectors` read it; absent or unknown, every
    /// such pack applies (the strictest reading: an FDCPA debt collector).
    /// `agency`, `debt_buyer` or `creditor`; any other word (`law_firm`, `unknown`)
    /// decides as an FDCPA debt collector's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "agency")]
    pub collector: Option<CollectorKind>,
}

/// Who is collecting a debt: the law covers some and not others (Regulation F binds
/// FDCPA debt collectors; Washington's Collection Agency Act binds licensed agencies;
/// DC, Massachusetts and New York City also bind creditors collecting their own debts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum CollectorKind {
    /// A collection agency collecting debts owed to another (an FDCPA debt collector).
    Agency,
    /// A debt buyer collecting debts it bought in default (treated as an FDCPA debt
    /// collector: the stricter reading of 15 U.S.C. 1692a(6)).
    DebtBuyer,
    /// A creditor collecting its own debts (first-party collection).
    Creditor,
    /// Any other value: not known, so it decides as an FDCPA debt collector (every
    /// pack scoped by collector applies).
    #[serde(other)]
    Unknown,
}

impl CollectorKind {
    /// The kinds a pack scope may name (`Unknown` is not one).
    pub const ALL: [CollectorKind; 3] = [
        CollectorKind::Agency,
        CollectorKind::DebtBuyer,
        CollectorKind::Creditor,
    ];

    /// The name used in packs, configuration and accounts.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorKind::Agency => "agency",
            CollectorKind::DebtBuyer => "debt_buyer",
            CollectorKind::Creditor => "creditor",
            CollectorKind::Unknown => "unknown",
        }
    }

    /// Parses a name a pack scope may use.
    pub fn parse(name: &str) -> Option<CollectorKind> {
        CollectorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}
super::object_only!(Account);

/// The consumer: where they live and how to reach them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Consumer {
    /// The agency's identifier of the person. Accounts that share it are one consumer's
    /// debts: the daemon counts their contacts together for `per = "consumer"` caps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Postal address; the state decides which packs apply and which zones are candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Time zones known for the consumer. When given, they are the only candidates.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "super::zone_serde"
    )]
    #[schema(value_type = Vec<String>, example = json!(["America/New_York"]))]
    pub time_zones: Vec<Tz>,
    /// Telephone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<EmailAddress>,
}

impl Consumer {
    /// The state of the consumer's address, as written (scopes, strategies and audits
    /// match it; the time zones read it).
    pub fn state(&self) -> Option<&str> {
        self.address.as_ref().and_then(|a| a.state.as_deref())
    }
}
super::object_only!(Consumer);

/// A postal address. Only the parts the rules need are kept.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Address {
    /// Two-letter USPS state or territory code (`NY`, `MA`), in any case. An unknown code
    /// is refused wherever an account enters (a request, a stored account, an import):
    /// an account whose state no pack recognises would be judged by the federal pack
    /// alone, silently.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_state"
    )]
    pub state: Option<String>,
    /// City name as written on the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ZIP code: five digits, or ZIP+4 (`11354-1234`). City packs may be scoped by
    /// ZIP code, so one that cannot be read is refused rather than ignored.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_postal_code"
    )]
    pub postal_code: Option<String>,
}
super::object_only!(Address);

/// A telephone number of the consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Phone {
    /// The number, preferably E.164 (`+12125550100`): digits (7 to 15 of them), with an
    /// optional leading `+` and spaces, dots, dashes or parentheses between; anything
    /// else is refused wherever an account enters.
    #[serde(deserialize_with = "deserialize_phone_number")]
    #[schema(pattern = "^\\+?[0-9 ().-]{7,40}$")]
    pub number: String,
    /// What kind of line it is.
    pub kind: PhoneKind,
}
super::object_only!(Phone);

/// The kind of telephone line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum PhoneKind {
    /// A mobile phone: not tied to a place.
    Mobile,
    /// A residential landline: calls to it are calls "at home".
    Landline,
    /// A number at the place of employment.
    Work,
}

/// An email address of the consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct EmailAddress {
    /// The address: `local@domain.tld`, at most 254 characters, no spaces; anything else
    /// is refused wherever an account enters.
    #[serde(deserialize_with = "deserialize_email_address")]
    #[schema(pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$")]
    pub address: String,
    /// Whether it is personal or provided by the employer (1006.22(f)(3)).
    pub kind: EmailKind,
}
super::object_only!(EmailAddress);

/// The kind of email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum EmailKind {
    /// The consumer's own address.
    Personal,
    /// An address provided by the consumer's employer.
    Work,
}

/// The kind of contact point a rule can single out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactPointKind {
    /// A mobile phone.
    Mobile,
    /// A residential landline.
    Landline,
    /// A telephone at the place of employment.
    WorkPhone,
    /// A personal email address.
    PersonalEmail,
    /// An employer-provided email address.
    WorkEmail,
    /// The postal address (letters and visits).
    Address,
}

impl ContactPointKind {
    /// Every kind, in a stable order.
    pub const ALL: [ContactPointKind; 6] = [
        ContactPointKind::Mobile,
        ContactPointKind::Landline,
        ContactPointKind::WorkPhone,
        ContactPointKind::PersonalEmail,
        ContactPointKind::WorkEmail,
        ContactPointKind::Address,
    ];

    /// The name used in rule packs.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactPointKind::Mobile => "mobile",
            ContactPointKind::Landline => "landline",
            ContactPointKind::WorkPhone => "work_phone",
            ContactPointKind::PersonalEmail => "personal_email",
            ContactPointKind::WorkEmail => "work_email",
            ContactPointKind::Address => "address",
        }
    }

    /// Parses the name used in rule packs.
    pub fn parse(name: &str) -> Option<ContactPointKind> {
        ContactPointKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The place a contact point is tied to (comment 6(b)(1)(ii)-1): a landline and the
    /// postal address are at home, work phones and work email at work; mobiles and
    /// personal email are not place-bound.
    pub fn place(self) -> Option<Place> {
        match self {
            ContactPointKind::Landline | ContactPointKind::Address => Some(Place::Home),
            ContactPointKind::WorkPhone | ContactPointKind::WorkEmail => Some(Place::Work),
            ContactPointKind::Mobile | ContactPointKind::PersonalEmail => None,
        }
    }
}

/// A place a consumer may call inconvenient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Place {
    /// The consumer's home.
    Home,
    /// The consumer's place of employment.
    Work,
}

/// Conditions recorded on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(utoipa::ToSchema)]
pub struct Flags {
    /// The consumer refused to pay or asked us to stop communicating (1006.6(c)).
    pub cease_and_desist: bool,
    /// The consumer is represented by an attorney on this debt (1006.6(b)(2)).
    pub attorney_represented: bool,
    /// A written dispute is pending verification (1006.38(d)(2)).
    pub disputed: bool,
    /// A bankruptcy case is pending or the debt was discharged (11 U.S.C. 362, 524).
    pub bankruptcy: bool,
    /// The consumer has died.
    pub deceased: bool,
    /// The consumer claims identity theft.
    pub identity_theft: bool,
    /// The employer prohibits contact at work (1006.6(b)(3)).
    pub work_contact_prohibited: bool,
}

impl Flags {
    /// The legal holds among the flags: conditions under which collection stops until
    /// they are lifted.
    pub const HOLDS: [Flag; 6] = [
        Flag::CeaseAndDesist,
        Flag::AttorneyRepresented,
        Flag::Disputed,
        Flag::Bankruptcy,
        Flag::Deceased,
        Flag::IdentityTheft,
    ];

    /// The legal holds set on the account.
    pub fn holds(&self) -> impl Iterator<Item = Flag> + use<> {
        self.hold_values()
            .into_iter()
            .filter_map(|(flag, set)| set.then_some(flag))
    }

    /// Each of [`Flags::HOLDS`] with whether it is set, read off the fields: every
    /// decision asks, and going through [`Flags::get`]'s match cost a one-shot decision
    /// ≈ 50 instructions. (A test holds it to `get`.)
    pub(crate) fn hold_values(&self) -> [(Flag, bool); 6] {
        [
            (Flag::CeaseAndDesist, self.cease_and_desist),
            (Flag::AttorneyRepresented, self.attorney_represented),
            (Flag::Disputed, self.disputed),
            (Flag::Bankruptcy, self.bankruptcy),
            (Flag::Deceased, self.deceased),
            (Flag::IdentityTheft, self.identity_theft),
        ]
    }

    /// The value of an account flag; `None` for flags derived from the request.
    pub fn get(&self, flag: Flag) -> Option<bool> {
        match flag {
            Flag::CeaseAndDesist => Some(self.cease_and_desist),
            Flag::AttorneyRepresented => Some(self.attorney_represented),
            Flag::Disputed => Some(self.disputed),
            Flag::Bankruptcy => Some(self.bankruptcy),
            Flag::Deceased => Some(self.deceased),
            Flag::IdentityTheft => Some(self.identity_theft),
            Flag::WorkContactProhibited => Some(self.work_contact_prohibited),
            Flag::OptedOut | Flag::InconvenientPlace | Flag::NoConsent => None,
        }
    }

    /// The account flag to change; `None` for flags derived from the request.
    pub fn get_mut(&mut self, flag: Flag) -> Option<&mut bool> {
        match flag {
            Flag::CeaseAndDesist => Some(&mut self.cease_and_desist),
            Flag::AttorneyRepresented => Some(&mut self.attorney_represented),
            Flag::Disputed => Some(&mut self.disputed),
            Flag::Bankruptcy => Some(&mut self.bankruptcy),
            Flag::Deceased => Some(&mut self.deceased),
            Flag::IdentityTheft => Some(&mut self.identity_theft),
            Flag::WorkContactProhibited => Some(&mut self.work_contact_prohibited),
            Flag::OptedOut | Flag::InconvenientPlace | Flag::NoConsent => None,
        }
    }
}

/// A flag a hold rule can name: the account flags plus conditions derived from the
/// request (an opt-out that covers the channel or the contact point, an inconvenient
/// place, a missing consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Flag {
    /// See [`Flags::cease_and_desist`].
    CeaseAndDesist,
    /// See [`Flags::attorney_represented`].
    AttorneyRepresented,
    /// See [`Flags::disputed`].
    Disputed,
    /// See [`Flags::bankruptcy`].
    Bankruptcy,
    /// See [`Flags::deceased`].
    Deceased,
    /// See [`Flags::identity_theft`].
    IdentityTheft,
    /// The employer prohibits contact at work and the contact point is at work.
    WorkContactProhibited,
    /// The consumer opted out of the requested channel or contact point.
    OptedOut,
    /// The contact point is at a place the consumer called inconvenient.
    InconvenientPlace,
    /// No consent to this channel is on record (or it was revoked).
    NoConsent,
}

impl Flag {
    /// A bit for compact flag sets.
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Every flag, in a stable order.
    pub const ALL: [Flag; 10] = [
        Flag::CeaseAndDesist,
        Flag::AttorneyRepresented,
        Flag::Disputed,
        Flag::Bankruptcy,
        Flag::Deceased,
        Flag::IdentityTheft,
        Flag::WorkContactProhibited,
        Flag::OptedOut,
        Flag::InconvenientPlace,
        Flag::NoConsent,
    ];

    /// The name used in rule packs.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::CeaseAndDesist => "cease_and_desist",
            Flag::AttorneyRepresented => "attorney_represented",
            Flag::Disputed => "disputed",
            Flag::Bankruptcy => "bankruptcy",
            Flag::Deceased => "deceased",
            Flag::IdentityTheft => "identity_theft",
            Flag::WorkContactProhibited => "work_contact_prohibited",
            Flag::OptedOut => "opted_out",
            Flag::InconvenientPlace => "inconvenient_place",
            Flag::NoConsent => "no_consent",
        }
    }

    /// Parses the name used in rule packs.
    pub fn parse(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Something the consumer asked us not to use: a whole channel (`"email"`) or one
/// phone number or email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptOut {
    /// Every contact point of a channel ("stop calling", 1006.14(h); comment 14(h)(1)-3).
    Channel(Channel),
    /// One number or address (comment 14(h)(1)-2).
    ContactPoint(String),
}

impl Serialize for OptOut {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OptOut::Channel(channel) => serializer.serialize_str(channel.as_str()),
            OptOut::ContactPoint(point) => serializer.serialize_str(point),
        }
    }
}

impl<'de> Deserialize<'de> for OptOut {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match Channel::parse(&text) {
            Some(channel) => OptOut::Channel(channel),
            None => OptOut::ContactPoint(text),
        })
    }
}

/// Day of the week, as written in rule packs and JSON (`mon` … `sun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The name used in rule packs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    /// Parses the name used in rule packs.
    pub fn parse(name: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// The chrono weekday.
    pub fn from_chrono(day: chrono::Weekday) -> Weekday {
        match day {
            chrono::Weekday::Mon => Weekday::Mon,
            chrono::Weekday::Tue => Weekday::Tue,
            chrono::Weekday::Wed => Weekday::Wed,
            chrono::Weekday::Thu => Weekday::Thu,
            chrono::Weekday::Fri => Weekday::Fri,
            chrono::Weekday::Sat => Weekday::Sat,
            chrono::Weekday::Sun => Weekday::Sun,
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A local wall-clock time with minute precision, `00:00` to `24:00` inclusive
/// (`24:00` is the end of the day, for interval ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// The start of the day.
    pub const MIDNIGHT: TimeOfDay = TimeOfDay { minutes: 0 };
    /// The end of the day.
    pub const END_OF_DAY: TimeOfDay = TimeOfDay { minutes: 24 * 60 };

    /// Parses `HH:MM` (24-hour clock; `24:00` allowed).
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        let problem = || {
            format!(
                "`{text}` is not a time of day; write HH:MM on a 24-hour clock, e.g. `08:00` or `21:00`"
            )
        };
        let (hours, minutes) = text.split_once(':').ok_or_else(problem)?;
        if hours.len() != 2 || minutes.len() != 2 {
            return Err(problem());
        }
        let hours: u16 = hours.parse().map_err(|_| problem())?;
        let minutes: u16 = minutes.parse().map_err(|_| problem())?;
        if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
            return Err(problem());
        }
        Ok(TimeOfDay {
            minutes: hours * 60 + minutes,
        })
    }

    /// Builds a time from minutes after midnight; `None` past `24:00`.
    pub fn from_minutes(minutes: u16) -> Option<TimeOfDay> {
        (minutes <= 24 * 60).then_some(TimeOfDay { minutes })
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.minutes
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TimeOfDay::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A recurring time the consumer called inconvenient ("not on Tuesdays and Thursdays
/// until the end of the year"), in the consumer's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InconvenientTime {
    /// The days it recurs on; every day when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    /// Start of the inconvenient interval (inclusive); before `to` (an interval that
    /// crosses midnight is written as two).
    pub from: TimeOfDay,
    /// End of the inconvenient interval (exclusive).
    pub to: TimeOfDay,
    /// The last local date it applies to, inclusive; for ever when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::domain::instant::DateSchema>)]
    pub until: Option<NaiveDate>,
}

impl<'de> Deserialize<'de> for InconvenientTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            days: Vec<Weekday>,
            from: TimeOfDay,
            to: TimeOfDay,
            #[serde(
                default,
                deserialize_with = "super::instant::deserialize_optional_date"
            )]
            until: Option<NaiveDate>,
        }
        let raw = Raw::deserialize(deserializer)?;
        if raw.from >= raw.to {
            return Err(serde::de::Error::custom(format!(
                "inconvenient time `{}`-`{}` is empty or inverted; `from` must be before `to` \
                 (write two entries for a range that crosses midnight)",
                raw.from, raw.to
            )));
        }
        Ok(InconvenientTime {
            days: raw.days,
            from: raw.from,
            to: raw.to,
            until: raw.until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Flag, Flags};

    #[test]
    fn the_holds_read_off_the_fields_are_the_holds_get_reads() {
        for bits in 0u8..128 {
            let flags = Flags {
                cease_and_desist: bits & 1 != 0,
                attorney_represented: bits & 2 != 0,
                disputed: bits & 4 != 0,
                bankruptcy: bits & 8 != 0,
                deceased: bits & 16 != 0,
                identity_theft: bits & 32 != 0,
                work_contact_prohibited: bits & 64 != 0,
            };
            let by_get: Vec<Flag> = Flags::HOLDS
                .into_iter()
                .filter(|flag| flags.get(*flag) == Some(true))
                .collect();
            assert_eq!(flags.holds().collect::<Vec<_>>(), by_get, "{flags:?}");
        }
    }
}
