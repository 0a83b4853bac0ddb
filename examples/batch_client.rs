//! `POST /v1/batch` end to end, as a backend would send it: the body
//! written on one thread while the decision lines are read on another, so
//! neither direction waits for the other.
//!
//! ```sh
//! cargo run --release --example batch_client -- 127.0.0.1:7878 events.jsonl [--token-file FILE] [--out FILE]
//! ```
//!
//! It sends the file with its `Content-Length`, reads the streamed answer
//! (chunked), counts the decision lines and prints events/s for the whole
//! exchange, from the first byte sent to the last byte received.
//! `scripts/bench-serve.sh` uses it for the batch figure. (`curl -T` took
//! twice as long on the same service and input, 2.8 s against 1.4 s side by
//! side: one thread sending the body and reading the answer in turns paces
//! the exchange itself.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = run() {
        eprintln!("batch_client: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: batch_client ADDR EVENTS.jsonl [--token-file FILE] [--out FILE]";
    let addr = args.next().ok_or(usage)?;
    let path = args.next().ok_or(usage)?;
    let (mut token, mut out) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match flag.as_str() {
            "--token-file" => {
                let text = std::fs::read_to_string(&value).map_err(|e| format!("{value}: {e}"))?;
                token = Some(text.lines().next().unwrap_or("").trim().to_owned());
            }
            "--out" => out = Some(value),
            _ => return Err(usage.into()),
        }
    }
    let mut file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let size = file.metadata().map_err(|e| format!("{path}: {e}"))?.len();
    let stream = TcpStream::connect(&addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_nodelay(true).ok();
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut sender = stream.try_clone().map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-ndjson\r\n{auth}Content-Length: {size}\r\n\r\n"
    );
    let started = Instant::now();
    let send = std::thread::spawn(move || -> std::io::Result<u64> {
        sender.write_all(head.as_bytes())?;
        // std copies a file to a socket with sendfile where it can.
        std::io::copy(&mut file, &mut sender)
    });
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?,
        )),
        None => Box::new(std::io::sink()),
    };
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    let status = read_head(&mut reader)?;
    if status != 200 {
        let mut rest = String::new();
        let _ = reader.take(4096).read_to_string(&mut rest);
        return Err(format!("the service answered {status}: {rest}"));
    }
    let (bytes, lines) = read_chunked(&mut reader, &mut sink)?;
    let took = started.elapsed();
    let sent = send
        .join()
        .map_err(|_| "the sending thread panicked")?
        .map_err(|e| format!("sending: {e}"))?;
    sink.flush().map_err(|e| e.to_string())?;
    println!(
        "{sent} bytes sent, {bytes} bytes and {lines} decision lines back in {:.3} s: {:.0} decisions/s",
        took.as_secs_f64(),
        lines as f64 / took.as_secs_f64()
    );
    Ok(())
}

/// Reads the status line and headers; the status.
fn read_head(r: &mut impl BufRead) -> Result<u16, String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("reading the answer: {e}"))?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
    loop {
        line.clear();
        r.read_line(&mut line)
            .map_err(|e| format!("reading the headers: {e}"))?;
        if line == "\r\n" || line.is_empty() {
            return Ok(status);
        }
    }
}

/// Reads a chunked body to its end into `sink`; its bytes and lines.
fn read_chunked(r: &mut impl BufRead, sink: &mut impl Write) -> Result<(u64, u64), String> {
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut size_line = String::new();
    loop {
        size_line.clear();
        r.read_line(&mut size_line)
            .map_err(|e| format!("reading a chunk: {e}"))?;
        let hex = size_line.trim().split(';').next().unwrap_or("");
        let mut left = u64::from_str_radix(hex, 16).map_err(|_| format!("not a chunk size: {size_line:?}"))?;
        if left == 0 {
            return Ok((bytes, lines));
        }
        while left > 0 {
            let buf = r.fill_buf().map_err(|e| format!("reading a chunk: {e}"))?;
            if buf.is_empty() {
                return Err("the answer ended inside a chunk".into());
            }
            let n = buf.len().min(left as usize);
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            sink.write_all(&buf[..n]).map_err(|e| e.to_string())?;
            r.consume(n);
            left -= n as u64;
            bytes += n as u64;
        }
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)
            .map_err(|e| format!("reading a chunk's end: {e}"))?;
    }
}
