//! Writes a large synthetic world and event stream for benchmarks and load tests.
//!
//! ```sh
//! cargo run --release --example generate -- --out target/bench --events 10000000
//! commroute route batch --world target/bench/world.yaml --input target/bench/events.jsonl --output /dev/null
//! ```
//!
//! Writes `world.yaml` (100,000 clients, 2,000 staff, 300 locations in 40
//! accounts unless told otherwise) and `events.jsonl` into `--out`. Generated
//! files belong in `target/` or `/tmp`, never in the repository.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::{bail, Context};
use commroute::generate::{write_events, write_world, Shape};

fn main() -> anyhow::Result<()> {
    let mut out = PathBuf::from("target/bench");
    let mut events: u64 = 1_000_000;
    let mut shape = Shape::LARGE;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = PathBuf::from(value()?),
            "--events" => events = value()?.replace('_', "").parse()?,
            "--clients" => shape.clients = value()?.parse()?,
            "--staff" => shape.staff = value()?.parse()?,
            "--locations" => shape.locations = value()?.parse()?,
            "--seed" => shape.seed = value()?.parse()?,
            "-h" | "--help" => {
                println!("generate [--out DIR] [--events N] [--clients N] [--staff N] [--locations N] [--seed N]");
                return Ok(());
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let world_path = out.join("world.yaml");
    let mut w = BufWriter::new(File::create(&world_path)?);
    let model = write_world(&shape, &mut w)?;
    drop(w);
    let events_path = out.join("events.jsonl");
    let mut e = BufWriter::with_capacity(1 << 20, File::create(&events_path)?);
    write_events(&model, events, shape.seed, &mut e)?;
    drop(e);
    eprintln!(
        "wrote {} and {} ({events} events)",
        world_path.display(),
        events_path.display()
    );
    Ok(())
}
