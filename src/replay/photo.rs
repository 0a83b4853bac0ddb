//! Photos attached to messages: which files may be sent.
//!
//! Only `jpeg`, `jpg`, `png`, `gif`, `pjpeg` and `x-png` images strictly below
//! 5,242,880 bytes may be sent. The type is read from the file's first bytes
//! (its magic number), never from its name, so a PDF renamed `.png` is
//! refused; a JPEG whose first frame header is progressive (SOF2 and the other
//! progressive markers) is a `pjpeg`. The magic numbers are few and stable,
//! and telling baseline from progressive JPEG needs a walk over the JPEG
//! markers that sniffing crates do not do, so the checks are written here.

use std::io::Read;
use std::path::Path;

use serde::Serialize;

/// Photos must be strictly smaller than this many bytes (5 MB).
pub const MAX_BYTES: u64 = 5_242_880;

/// The first refusal line, exactly as the product shows it.
pub const NOT_AN_IMAGE: &str = "Not a recognized image file";
/// The second refusal line, exactly as the product shows it.
pub const SUPPORTED: &str = "Supported image types are 'jpeg', 'jpg', 'png', 'gif', 'pjpeg', and 'x-png'";

/// What a file's content says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A baseline JPEG image.
    Jpeg,
    /// A progressive JPEG image.
    Pjpeg,
    /// A PNG image.
    Png,
    /// A GIF image.
    Gif,
    /// A WebP image, recognised but not allowed.
    Webp,
    /// A PDF document, recognised so the refusal can say so.
    Pdf,
    /// A file with no bytes at all.
    Empty,
    /// Content whose magic number is none of the above.
    Unknown,
}

impl Kind {
    /// The kind's lowercase name, as shown in `check-photo` output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Pjpeg => "pjpeg",
            Kind::Png => "png",
            Kind::Gif => "gif",
            Kind::Webp => "webp",
            Kind::Pdf => "pdf",
            Kind::Empty => "empty",
            Kind::Unknown => "unknown",
        }
    }

    /// Whether photos of this kind may be sent.
    pub fn allowed(self) -> bool {
        matches!(self, Kind::Jpeg | Kind::Pjpeg | Kind::Png | Kind::Gif)
    }
}

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What the file's content says it is.
    pub kind: Kind,
    /// The file's size in bytes.
    pub bytes: u64,
    /// Whether the photo may be sent: an allowed kind and under the size limit.
    pub accepted: bool,
    /// The lines shown when the photo is refused (empty when accepted).
    pub refusal: Vec<String>,
}

/// The line that states the size limit, for a file that is too large.
pub fn too_large(bytes: u64) -> String {
    format!("Images must be smaller than 5 MB (5,242,880 bytes); this file has {bytes} bytes")
}

/// Judges content already in memory (`bytes` is the full length of the file;
/// `head` is at least its first bytes).
pub fn judge(head: &[u8], bytes: u64) -> Verdict {
    let kind = sniff(head);
    let mut refusal = Vec::new();
    if !kind.allowed() || bytes >= MAX_BYTES {
        refusal.push(NOT_AN_IMAGE.to_owned());
        refusal.push(SUPPORTED.to_owned());
        if bytes >= MAX_BYTES {
            refusal.push(too_large(bytes));
        }
    }
    Verdict {
        kind,
        bytes,
        accepted: refusal.is_empty(),
        refusal,
    }
}

/// Reads the start of a file and judges it. A path that is not a regular
/// file (a device, a named pipe, a directory) is an error saying what it is,
/// found from its metadata without opening it: `/dev/zero` is not a photo of
/// 0 bytes, and a named pipe must not block the check.
pub fn check(path: &Path) -> std::io::Result<Verdict> {
    if let Some(what) = crate::diag::not_a_file(&std::fs::metadata(path)?) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {what}, not a file; give the path of an image file"),
        ));
    }
    let mut f = std::fs::File::open(path)?;
    let bytes = f.metadata()?.len();
    // JPEG frame headers come after the APP segments (EXIF can be large).
    let mut head = Vec::with_capacity(bytes.min(1 << 20) as usize);
    f.by_ref().take(1 << 20).read_to_end(&mut head)?;
    Ok(judge(&head, bytes))
}

/// Reads a stream to its end (standard input, say) and judges it: its
/// first MiB is kept for the magic bytes, the rest only counted.
pub fn check_reader(reader: &mut impl Read) -> std::io::Result<Verdict> {
    let mut head = Vec::new();
    reader.by_ref().take(1 << 20).read_to_end(&mut head)?;
    let rest = std::io::copy(reader, &mut std::io::sink())?;
    Ok(judge(&head, head.len() as u64 + rest))
}

/// What the magic bytes say.
pub fn sniff(b: &[u8]) -> Kind {
    if b.is_empty() {
        Kind::Empty
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Kind::Png
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg_kind(b)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Kind::Gif
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Kind::Webp
    } else if b.starts_with(b"%PDF-") {
        Kind::Pdf
    } else {
        Kind::Unknown
    }
}

/// Walks the JPEG markers up to the first frame header: SOF2, SOF6, SOF10
/// and SOF14 are progressive (`pjpeg`), every other frame is a `jpeg`.
fn jpeg_kind(b: &[u8]) -> Kind {
    let mut i = 2; // after SOI
    while i + 1 < b.len() {
        if b[i] != 0xFF {
            return Kind::Jpeg; // not at a marker: leave it at plain JPEG
        }
        let m = b[i + 1];
        i += 2;
        match m {
            0xFF => i -= 1, // fill byte
            0x01 | 0xD0..=0xD8 => {}
            0xC2 | 0xC6 | 0xCA | 0xCE => return Kind::Pjpeg,
            0xC0 | 0xC1 | 0xC3 | 0xC5 | 0xC7 | 0xC9 | 0xCB | 0xCD | 0xCF => return Kind::Jpeg,
            0xDA | 0xD9 => return Kind::Jpeg, // scan or end before any frame header
            _ => {
                if i + 1 >= b.len() {
                    return Kind::Jpeg;
                }
                let len = u16::from_be_bytes([b[i], b[i + 1]]) as usize;
                i += len;
            }
        }
    }
    Kind::Jpeg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(sof: u8) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        // APP0 JFIF, 16 bytes
        v.extend([0xFF, 0xE0, 0x00, 0x10]);
        v.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        v.extend([0xFF, sof, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        v.extend([0xFF, 0xD9]);
        v
    }

    #[test]
    fn progressive_jpeg_is_pjpeg() {
        assert_eq!(sniff(&jpeg(0xC0)), Kind::Jpeg);
        assert_eq!(sniff(&jpeg(0xC2)), Kind::Pjpeg);
    }

    #[test]
    fn pdf_is_refused_whatever_its_name() {
        let v = judge(b"%PDF-1.7\n", 9);
        assert_eq!(v.kind, Kind::Pdf);
        assert_eq!(v.refusal, [NOT_AN_IMAGE, SUPPORTED]);
    }

    #[test]
    fn the_limit_is_strict() {
        let png = b"\x89PNG\r\n\x1a\n";
        assert!(judge(png, MAX_BYTES - 1).accepted);
        let v = judge(png, MAX_BYTES);
        assert!(!v.accepted);
        assert_eq!(v.refusal[2], too_large(MAX_BYTES));
    }
}
