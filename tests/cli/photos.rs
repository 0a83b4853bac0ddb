//! Photos: the type comes from the file's content, the limit is strict, and
//! refusals use the product's exact words. Real files: small ones committed in
//! `tests/photos/`, the rest (empty, a PDF named `.png`, PNGs at the size
//! limit) made here.

use std::path::{Path, PathBuf};
use std::process::Command;

use commroute::replay::photo::{self, Kind, MAX_BYTES, NOT_AN_IMAGE, SUPPORTED};

use crate::support::process;

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `tests/photos/swatch.png` grown to exactly `size` bytes with a `tEXt`
/// chunk before `IEND`: still a valid PNG.
fn png_of_size(size: usize) -> Vec<u8> {
    let png = std::fs::read("tests/photos/swatch.png").unwrap();
    let (body, iend) = png.split_at(png.len() - 12);
    assert_eq!(&iend[4..8], b"IEND");
    let text_len = size - png.len() - 12;
    let mut data = b"Comment\0".to_vec();
    data.resize(text_len, b'.');
    let mut chunk = (text_len as u32).to_be_bytes().to_vec();
    chunk.extend(b"tEXt");
    chunk.extend(&data);
    chunk.extend(crc32(&chunk[4..]).to_be_bytes());
    let mut out = body.to_vec();
    out.extend(chunk);
    out.extend(iend);
    assert_eq!(out.len(), size);
    out
}

struct Files {
    _dir: tempfile::TempDir,
    empty: PathBuf,
    pdf_named_png: PathBuf,
    at_limit: PathBuf,
    below_limit: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("empty.png"), b"").unwrap();
    std::fs::write(
        p("price-list.png"),
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    )
    .unwrap();
    std::fs::write(p("at-limit.png"), png_of_size(MAX_BYTES as usize)).unwrap();
    std::fs::write(p("below-limit.png"), png_of_size(MAX_BYTES as usize - 1)).unwrap();
    Files {
        empty: p("empty.png"),
        pdf_named_png: p("price-list.png"),
        at_limit: p("at-limit.png"),
        below_limit: p("below-limit.png"),
        _dir: dir,
    }
}

fn check(path: &Path) -> photo::Verdict {
    photo::check(path).unwrap()
}

#[test]
fn allowed_types_are_read_from_the_content() {
    for (file, kind) in [
        ("tests/photos/swatch.png", Kind::Png),
        ("tests/photos/baseline.jpg", Kind::Jpeg),
        ("tests/photos/progressive.jpg", Kind::Pjpeg),
        ("tests/photos/swatch.gif", Kind::Gif),
    ] {
        let v = check(Path::new(file));
        assert_eq!(v.kind, kind, "{file}");
        assert!(v.accepted, "{file}: {:?}", v.refusal);
    }
}

#[test]
fn webp_empty_and_a_pdf_named_png_are_refused_with_the_product_words() {
    let f = files();
    for (path, kind) in [
        (PathBuf::from("tests/photos/swatch.webp"), Kind::Webp),
        (f.empty.clone(), Kind::Empty),
        (f.pdf_named_png.clone(), Kind::Pdf),
    ] {
        let v = check(&path);
        assert_eq!(v.kind, kind, "{}", path.display());
        assert!(!v.accepted);
        assert_eq!(v.refusal, [NOT_AN_IMAGE, SUPPORTED], "{}", path.display());
    }
}

#[test]
fn the_size_limit_is_strict_at_5_242_880_bytes() {
    let f = files();
    let below = check(&f.below_limit);
    assert_eq!((below.kind, below.bytes, below.accepted), (Kind::Png, 5_242_879, true));
    let at = check(&f.at_limit);
    assert_eq!((at.kind, at.bytes, at.accepted), (Kind::Png, 5_242_880, false));
    assert_eq!(
        at.refusal,
        [
            NOT_AN_IMAGE,
            SUPPORTED,
            "Images must be smaller than 5 MB (5,242,880 bytes); this file has 5242880 bytes"
        ]
    );
}

#[test]
fn check_photo_exits_1_when_any_file_is_refused() {
    let f = files();
    let run = |files: &[&Path]| {
        let out = process::output_within(
            Command::new(env!("CARGO_BIN_EXE_commroute"))
                .arg("check-photo")
                .args(files),
            None,
            process::DEADLINE,
        );
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, out) = run(&[Path::new("tests/photos/progressive.jpg"), &f.below_limit]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        format!(
            "tests/photos/progressive.jpg: ok (pjpeg, 547 bytes)\n{}: ok (png, 5242879 bytes)\n",
            f.below_limit.display()
        )
    );
    let (code, out) = run(&[Path::new("tests/photos/swatch.gif"), &f.pdf_named_png, &f.at_limit]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        format!(
            "tests/photos/swatch.gif: ok (gif, 87 bytes)\n\
             {}: refused (pdf, 77 bytes)\n  {NOT_AN_IMAGE}\n  {SUPPORTED}\n\
             {}: refused (png, 5242880 bytes)\n  {NOT_AN_IMAGE}\n  {SUPPORTED}\n  \
             Images must be smaller than 5 MB (5,242,880 bytes); this file has 5242880 bytes\n",
            f.pdf_named_png.display(),
            f.at_limit.display()
        )
    );
}
