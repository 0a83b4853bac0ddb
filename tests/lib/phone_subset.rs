//! Differential property test: commroute's phone rules, which load the
//! libphonenumber metadata of only the regions a number needs (see
//! `src/contact.rs`), against the `phonenumber` crate's full default database
//! (`phonenumber::parse` + `phonenumber::is_valid`, E.164 form).
//!
//! The inputs concentrate on calling code 1, where the region that decides a
//! number depends on its area code: every Caribbean and Pacific leading-digit
//! area code, Canadian ones, and any other three digits, with 7-, 10- and
//! 11-digit numbers, `+1`/`1`/IDD prefixes and punctuation variants; then
//! 555-01xx fictional numbers, numbers of other calling codes (in
//! international and national form), random digit strings and garbage. Each
//! is read for a set of account countries, by rules loaded for that country
//! alone (as `contact::valid_phone` does) and by rules shared with other
//! countries (as a world with several countries does).
//!
//! `cargo test` runs 20,000 cases, each checked in 7 countries by 2 kinds of
//! rules; `PROPTEST_CASES=N` runs N.

use commroute::world::contact::{valid_phone, PhoneRules};
use phonenumber::country::Id;
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::proptest as props;

/// The account countries every number is read for.
const COUNTRIES: [Id; 7] = [Id::US, Id::CA, Id::GB, Id::JM, Id::PR, Id::FR, Id::AU];

/// Area codes of NANPA regions other than the US, as libphonenumber's
/// leading digits list them (Caribbean and Pacific), and Canadian ones.
const AREA_CODES: &[&str] = &[
    // Caribbean and Pacific
    "242", "246", "264", "268", "284", "340", "345", "441", "473", "649", "658", "664", "670", "671", "684", "721",
    "758", "767", "784", "787", "809", "829", "849", "868", "869", "876", "939", // Canada
    "204", "226", "236", "249", "250", "257", "263", "289", "306", "343", "354", "365", "367", "368", "382", "403",
    "416", "418", "428", "431", "437", "438", "450", "468", "474", "506", "514", "519", "548", "579", "581", "584",
    "587", "600", "604", "613", "622", "639", "647", "672", "683", "705", "709", "742", "753", "778", "780", "782",
    "807", "819", "825", "867", "873", "879", "902", "905", "942", // US, toll-free, premium, personal, fictional
    "650", "212", "201", "800", "833", "844", "855", "866", "877", "888", "900", "500", "521", "533", "544", "566",
    "577", "588", "555", "456", "710", "000", "911", "123",
];

/// Calling codes other than 1 (some invalid), for international forms.
const OTHER_CODES: &[&str] = &[
    "44", "33", "61", "52", "49", "81", "86", "7", "39", "34", "353", "64", "971", "852", "800", "979", "888", "882",
    "999", "0", "20", "590", "262", "672",
];

fn digits(len: impl Into<prop::collection::SizeRange>) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, len).prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
}

fn area_code() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(AREA_CODES).prop_map(str::to_string),
        1 => digits(3),
    ]
}

/// A seven-digit subscriber number as exchange and line.
fn subscriber() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        4 => (digits(3), digits(4)),
        1 => (Just("555".to_string()), (0u32..200).prop_map(|n| format!("{:04}", n))),
        1 => ((2u32..10).prop_map(|d| format!("{d}55")), digits(4)),
    ]
}

/// A NANPA number written in one of the ways staff type them.
fn nanp() -> impl Strategy<Value = String> {
    (area_code(), subscriber(), 0usize..12).prop_map(|(a, (e, l), style)| match style {
        0 => format!("+1 {a} {e} {l}"),
        1 => format!("({a}) {e}-{l}"),
        2 => format!("{a}-{e}-{l}"),
        3 => format!("{a}{e}{l}"),
        4 => format!("1{a}{e}{l}"),
        5 => format!("1-{a}-{e}-{l}"),
        6 => format!("+1{a}{e}{l}"),
        7 => format!("{a}.{e}.{l}"),
        8 => format!("{e}-{l}"),
        9 => format!("tel:+1-{a}-{e}-{l}"),
        10 => format!("011 1 {a} {e} {l}"),
        _ => format!("+1 ({a}) {e}-{l} ext. 12"),
    })
}

/// A number of another calling code, international or national.
fn foreign() -> impl Strategy<Value = String> {
    (prop::sample::select(OTHER_CODES), digits(3..13), 0usize..6).prop_map(|(c, n, style)| match style {
        0 => format!("+{c} {n}"),
        1 => format!("00{c}{n}"),
        2 => format!("011 {c} {n}"),
        3 => format!("0{n}"),
        4 => format!("+{c}{n}"),
        _ => format!("{c} {n}"),
    })
}

fn raw_number() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => nanp(),
        4 => foreign(),
        // Random digit strings, with or without a prefix.
        3 => (prop::sample::select(&["", "+", "1", "+1", "0", "00", "011", "+0"][..]), digits(1..16))
            .prop_map(|(p, d)| format!("{p}{d}")),
        // Garbage: anything printable, and digits among letters.
        1 => "[ -~]{0,24}",
        1 => "[0-9a-zA-Z+() .\\-#*;=:]{0,24}",
    ]
}

/// The full default database's answer, after the same trimming and length
/// limit commroute applies to every raw string.
fn full_database(raw: &str, country: Id) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    let number = phonenumber::parse(Some(country), raw).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

fn config(default_cases: u32) -> Config {
    props::proptest_config(default_cases)
}

/// Rules shared by several countries, as a world with accounts in each loads
/// them; the account country is sometimes outside them.
fn world_rules() -> &'static PhoneRules {
    static RULES: std::sync::OnceLock<PhoneRules> = std::sync::OnceLock::new();
    RULES.get_or_init(|| PhoneRules::for_countries([Id::US, Id::GB, Id::CA, Id::JM, Id::FR]))
}

proptest! {
    #![proptest_config(config(20_000))]

    /// Every number gets the full database's answer, for every account
    /// country, from one-country rules and from several-country rules.
    #[test]
    fn phone_rules_agree_with_the_full_database(raw in raw_number()) {
        for country in COUNTRIES {
            let expected = full_database(&raw, country);
            prop_assert_eq!(&valid_phone(&raw, country), &expected, "{:?} in {:?}, one-country rules", raw, country);
            prop_assert_eq!(&world_rules().valid_phone(&raw, country), &expected, "{:?} in {:?}, world rules", raw, country);
        }
    }
}

/// Every NANPA area code, read as a US, Canadian and Jamaican national
/// number with a few subscriber numbers, exhaustively.
#[test]
fn every_area_code_agrees_with_the_full_database() {
    for area in 0..1000 {
        for sub in ["2530000", "5550123", "4641234", "9460018", "2345678"] {
            for raw in [format!("{area:03}{sub}"), format!("+1{area:03}{sub}")] {
                for country in [Id::US, Id::CA, Id::JM] {
                    assert_eq!(
                        world_rules().valid_phone(&raw, country),
                        full_database(&raw, country),
                        "{raw} in {country:?}"
                    );
                }
            }
        }
    }
}
