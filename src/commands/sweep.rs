//! `staleauth sweep`: run a sweep file's points and replications in parallel and write
//! `runs.csv` and `points.csv`, or one shard's share of the runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use staleauth::error::Error;
use staleauth::sweep::check::{self, Check};
use staleauth::sweep::{self, Plan, files, spec};

#[derive(Args)]
pub struct SweepArgs {
    /// Sweep file (TOML).
    file: PathBuf,
    /// Number of runs simulated at once, one thread each; default: the number of CPUs.
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Output folder; default `sweep-results/<sweep name>`, or
    /// `sweep-results/<sweep name>-shard-I-of-N` with `--shard I/N`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs per point; overrides the sweep file's `replications`.
    #[arg(long)]
    replications: Option<u64>,
    /// A budget every point must meet, such as `p99(stale_allow_max_ms) <= 8h`; added to the
    /// sweep file's `checks`. Repeatable.
    #[arg(long = "check", value_name = "STAT(METRIC) OP LIMIT")]
    checks: Vec<String>,
    /// Run only shard I of N (from 1), for one machine of several; `staleauth merge` combines
    /// the shard folders. Checks are recorded in the shard and run at the merge.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

pub fn exec(args: SweepArgs) -> Result<u8, Error> {
    let (mut sweep, text) = spec::load_file(&args.file)?;
    if let Some(r) = args.replications {
        if r == 0 {
            return Err(Error::Usage(
                "invalid --replications 0: give at least 1".into(),
            ));
        }
        sweep.set_replications(r, &text);
        sweep
            .check_size()
            .map_err(|e| Error::Usage(format!("invalid --replications {r}: {e}")))?;
    }
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("invalid --jobs 0: give at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let shard = match &args.shard {
        Some(s) => Some(sweep::merge::parse_shard(s).map_err(Error::Usage)?),
        None => None,
    };
    let mut checks = sweep.checks.clone();
    checks.extend(sweep::parse_checks(&args.checks, "--check")?);
    require_intervals(&checks, sweep.replications)?;
    // A shard's default folder names the shard, so that shards run on one machine, or after an
    // unsharded run, never replace each other's files.
    let out = match (args.out, shard) {
        (Some(out), _) => staleauth::output::check_out_dir(&out)?,
        (None, Some((i, n))) => {
            Path::new("sweep-results").join(format!("{}-shard-{i}-of-{n}", sweep.name))
        }
        (None, None) => Path::new("sweep-results").join(&sweep.name),
    };
    files::check_out(&out)?;

    let plan = Plan::new(sweep)?;
    let all = plan.runs();
    let specs = match shard {
        Some((i, n)) => sweep::shard_runs(&all, i, n),
        None => all,
    };
    #[allow(clippy::disallowed_methods)] // wall-clock time for the progress bar and summary only
    let started = Instant::now();
    let rows = run_with_progress(&plan, &specs, jobs, started)?;
    let elapsed = started.elapsed();

    let columns = sweep::columns(&plan.sweep);
    let manifest = sweep::manifest(&plan.sweep, &checks, shard);
    let rate = specs.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    let summary = format!(
        "sweep `{}`: {} run(s) of {} point(s) in {:.1}s with {jobs} job(s), {rate:.1} runs/s -> {}",
        plan.sweep.name,
        specs.len(),
        plan.points.len(),
        elapsed.as_secs_f64(),
        out.display()
    );
    if let Some((i, n)) = shard {
        files::write_folder(&out, &sweep::shard_files(&manifest, &columns, &rows)?)?;
        eprintln!("{summary} (shard {i}/{n}; checks run at `staleauth merge`)");
        return Ok(0);
    }
    let (list, points) = sweep::complete_files(&manifest, &columns, &rows)?;
    files::write_folder(&out, &list)?;
    eprintln!("{summary}");
    Ok(report_checks(&checks, &columns.axes, &points))
}

/// Rejects checks on the confidence interval when every point has a single run, because the
/// interval is then undefined.
pub fn require_intervals(checks: &[Check], replications: u64) -> Result<(), Error> {
    let on_interval = checks
        .iter()
        .find(|c| check::STATS[c.stat].starts_with("ci_"));
    match on_interval {
        Some(c) if replications < 2 => Err(Error::Usage(format!(
            "check `{}` needs at least 2 replications per point, but there is 1",
            c.text
        ))),
        _ => Ok(()),
    }
}

/// Prints the checks' outcome and returns the exit code: 1 if a point breaks a check.
pub fn report_checks(checks: &[Check], axes: &[String], points: &[files::PointSummary]) -> u8 {
    if checks.is_empty() {
        return 0;
    }
    let found = check::violations(checks, points);
    if found.is_empty() {
        eprintln!(
            "{} check(s) met at all {} point(s)",
            checks.len(),
            points.len()
        );
        return 0;
    }
    eprintln!(
        "check failed: {} violation(s) of {} check(s):\n{}",
        found.len(),
        checks.len(),
        check::violation_table(checks, axes, &found)
    );
    1
}

fn run_with_progress(
    plan: &Plan,
    specs: &[sweep::plan::RunSpec],
    jobs: usize,
    started: Instant,
) -> Result<Vec<sweep::plan::RunRow>, Error> {
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(Some(specs.len() as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {rate}  ETA {eta}")
            .expect("the template is valid")
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} runs/s", state.per_sec());
                },
            ),
    );
    let shown = AtomicBool::new(false);
    // Draw only on a terminal, and only after half a second, so short sweeps print no bar.
    let done = || {
        bar.inc(1);
        if terminal
            && started.elapsed() > Duration::from_millis(500)
            && !shown.swap(true, Ordering::Relaxed)
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    };
    let rows = plan.run_all(specs, jobs, &done);
    bar.finish_and_clear();
    rows
}
