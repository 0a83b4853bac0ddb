//! How many SMS segments a text takes, the unit carriers bill.
//!
//! A text that only uses the GSM 03.38 alphabet travels as GSM-7: 160 septets
//! fit in one SMS, and a longer text is split into parts of 153 (each part
//! carries a 7-septet header). Characters of the GSM-7 extension table
//! (`^ { } \ [ ~ ] | €` and form feed) take two septets, an escape and the
//! character, and a part never ends between the two. Any other character
//! forces UCS-2 for the whole text: 70 UTF-16 units in one SMS, 67 per part,
//! and a part never ends between the two halves of a surrogate pair (an
//! emoji). An empty text is still one SMS.

use serde::Serialize;

/// The encoding a text travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// The GSM 03.38 7-bit alphabet: 160 septets in one SMS.
    Gsm7,
    /// UCS-2 (UTF-16), forced by any character GSM-7 lacks: 70 units in one SMS.
    Ucs2,
}

/// The encoding of a text and how many SMS segments it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    /// The encoding the text travels in.
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 units for UCS-2.
    pub units: usize,
    /// How many SMS segments the text takes, and is billed as (at least 1).
    pub count: usize,
}

/// The GSM 03.38 basic character set (the escape code itself excluded).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM 03.38 extension table: each takes an escape septet and itself.
const EXTENSION: &str = "^{}\\[~]|€\u{0C}";

/// Septets a character takes in GSM-7, or `None` when GSM-7 cannot carry it.
fn septets(c: char) -> Option<usize> {
    if c.is_ascii_alphanumeric() || c == ' ' {
        return Some(1);
    }
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Splits a run of units into parts of at most `part` units, never breaking
/// an indivisible unit group (an escape pair, a surrogate pair).
fn parts(sizes: impl Iterator<Item = usize>, part: usize) -> usize {
    let mut count = 1;
    let mut used = 0;
    for s in sizes {
        if used + s > part {
            count += 1;
            used = 0;
        }
        used += s;
    }
    count
}

/// Counts the segments of one SMS text.
pub fn count(text: &str) -> Segments {
    let gsm: Option<usize> = text.chars().map(septets).sum();
    match gsm {
        Some(units) => Segments {
            encoding: Encoding::Gsm7,
            units,
            count: if units <= 160 {
                1
            } else {
                parts(text.chars().map(|c| septets(c).unwrap_or(1)), 153)
            },
        },
        None => {
            let units = text.encode_utf16().count();
            Segments {
                encoding: Encoding::Ucs2,
                units,
                count: if units <= 70 {
                    1
                } else {
                    parts(text.chars().map(char::len_utf16), 67)
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str) -> (Encoding, usize, usize) {
        let s = count(text);
        (s.encoding, s.units, s.count)
    }

    #[test]
    fn gsm7_fits_160_then_splits_by_153() {
        assert_eq!(seg(""), (Encoding::Gsm7, 0, 1));
        assert_eq!(seg(&"a".repeat(160)), (Encoding::Gsm7, 160, 1));
        assert_eq!(seg(&"a".repeat(161)), (Encoding::Gsm7, 161, 2));
        assert_eq!(seg(&"a".repeat(306)), (Encoding::Gsm7, 306, 2));
        assert_eq!(seg(&"a".repeat(307)), (Encoding::Gsm7, 307, 3));
    }

    #[test]
    fn gsm7_accents_of_the_basic_table_stay_gsm7() {
        assert_eq!(seg("Café à 9h? Ça va! £5 ¿Si? ÄÖÜ äöü ñ Δ"), (Encoding::Gsm7, 37, 1));
    }

    #[test]
    fn extension_characters_take_two_septets() {
        assert_eq!(seg("€"), (Encoding::Gsm7, 2, 1));
        assert_eq!(seg(&"€".repeat(80)), (Encoding::Gsm7, 160, 1));
        assert_eq!(seg(&"€".repeat(81)), (Encoding::Gsm7, 162, 2));
        assert_eq!(seg("[{~^|}]\\"), (Encoding::Gsm7, 16, 1));
    }

    #[test]
    fn an_escape_pair_is_never_split_across_parts() {
        // 152 septets then `€`: the pair would straddle 153, so it moves to part two.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(seg(&text), (Encoding::Gsm7, 164, 2));
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(151));
        // part one: 152, part two: 2 + 151 = 153
        assert_eq!(seg(&text), (Encoding::Gsm7, 305, 2));
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(seg(&text), (Encoding::Gsm7, 306, 3));
    }

    #[test]
    fn anything_else_is_ucs2_counted_in_utf16_units() {
        assert_eq!(seg(&"é".repeat(70)), (Encoding::Gsm7, 70, 1));
        assert_eq!(seg(&"á".repeat(70)), (Encoding::Ucs2, 70, 1)); // á is not in the GSM-7 table (à is)
        assert_eq!(seg(&"á".repeat(71)), (Encoding::Ucs2, 71, 2));
        assert_eq!(seg(&"á".repeat(134)), (Encoding::Ucs2, 134, 2));
        assert_eq!(seg(&"á".repeat(135)), (Encoding::Ucs2, 135, 3));
        // An emoji is two UTF-16 units.
        assert_eq!(seg("See you 💇"), (Encoding::Ucs2, 10, 1));
        assert_eq!(seg(&"💇".repeat(35)), (Encoding::Ucs2, 70, 1));
        assert_eq!(seg(&"💇".repeat(36)), (Encoding::Ucs2, 72, 2));
    }

    #[test]
    fn a_surrogate_pair_is_never_split_across_parts() {
        // 66 units then an emoji: 68 would straddle 67, so part one holds 66.
        let text = format!("{}💇{}", "á".repeat(66), "á".repeat(65));
        assert_eq!(seg(&text), (Encoding::Ucs2, 133, 2));
        let text = format!("{}💇{}", "á".repeat(66), "á".repeat(66));
        assert_eq!(seg(&text), (Encoding::Ucs2, 134, 3));
    }
}
