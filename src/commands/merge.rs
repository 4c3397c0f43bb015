//! `staleauth merge`: combine shard folders of one sweep into the files an unsharded sweep
//! writes, and run its checks.

use std::path::PathBuf;

use clap::Args;

use staleauth::error::Error;
use staleauth::sweep::{self, files};

use super::sweep::{report_checks, require_intervals};

#[derive(Args)]
pub struct MergeArgs {
    /// Shard folders written by `staleauth sweep --shard I/N`, every shard once, in any order.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Output folder for the merged sweep.
    #[arg(long)]
    out: PathBuf,
    /// A budget every point must meet, added to the checks recorded in the shards. Repeatable.
    #[arg(long = "check", value_name = "STAT(METRIC) OP LIMIT")]
    checks: Vec<String>,
}

pub fn exec(args: MergeArgs) -> Result<u8, Error> {
    let out = staleauth::output::check_out_dir(&args.out)?;
    files::check_out(&out)?;
    let (mut manifest, columns, rows) = sweep::merge::merge(&args.shards)?;
    let mut checks = sweep::parse_checks(&manifest.checks, "sweep.toml")?;
    checks.extend(sweep::parse_checks(&args.checks, "--check")?);
    require_intervals(&checks, manifest.replications)?;
    // The merged manifest lists every check run on it, as an unsharded sweep's does.
    manifest.checks = checks.iter().map(|c| c.text.clone()).collect();
    let (list, points) = sweep::complete_files(&manifest, &columns, &rows)?;
    files::write_folder(&out, &list)?;
    eprintln!(
        "merged {} shard(s) of sweep `{}`: {} run(s) of {} point(s) -> {}",
        args.shards.len(),
        manifest.sweep,
        rows.len(),
        manifest.points,
        out.display()
    );
    Ok(report_checks(&checks, &columns.axes, &points))
}
