"""runwal's syncer: reads run directories the SDK wrote and syncs them to MLflow.

Where things live (the SDK is `logwriter`, the on-disk format `schema`)::

    errors.py              every error of the syncer, one tree; exit 2 (usage) vs 1 (sync) by class
    follow.py              `Follower`: one live run to a server until its EXIT is acknowledged
    runfiles.py            opening `files/<path>` without ever leaving the run dir (engine,
                           sinks and inspect all read a run's files through it)
    histogram.py           min/max/mean/std of a media histogram (MLflow metrics, TensorBoard)

    engine/                reading a run and replaying it, exactly once; knows no server product
      replay.py            `sync_run`: one pass (or a follow loop) of a run dir into a `Sink`
      batching.py          when a pass cuts a batch: points, records, seconds at the measured rate
      result.py            `SyncResult`: what a pass did (the engine never raises for bad runs)
      plan.py              `plan_run`: what a pass would send (`runwal sync --dry-run`)
      unit.py              `sync_path`: one pass over one run dir under its lock, sink from a
                           `Destination` (what `runwal sync` and `syncd` workers call)
      cursor.py            `LogCursor`: a read position across segments, polled again and again
      checkpoint.py        `sync/<sink>.json`: what the server already has
      synclock.py          `SyncLock`, `sync/<sink>.lock`: one syncer per run and server at a time

    sinks/                 destinations
      base.py              the protocols the engine programs against: `Sink`, `Destination`,
                           `Rejection` (a value refused for good), `RunIdentity`; and
                           `sink_file_name`, the name of a sink's files under sync/
      mlflow/              the MLflow destination (httpx lives here and nowhere else)
        connect.py         URI -> `MlflowServer` (a `Destination`): what sync/syncd/follow share
        sink.py            `MlflowSink`: records -> idempotent MLflow requests (why repeating
                           any of them is harmless: its docstring)
        logbatch.py        params, tags and metrics as log-batch requests: riding together,
                           chunks in parallel, 400s bisected to the items refused
        knownruns.py       `KnownRuns`: what a server's sinks remember for a run's next pass
        runs.py            find or create the server run by `runwal.run_id`, exactly once
        names.py           keys MLflow refuses, refused client-side (one rejection per key)
        spool.py           `sync/<sink>.output.log`: the console log uploaded as `output.log`
        client.py          the `httpx.Client` and its credentials from the environment
        mapping.py         which record becomes which param, tag, metric or artifact (pure)
        media.py           media records in MLflow's image/table layouts, media/, histograms (pure)
        artifacts.py       artifact/artifact_use records: artifacts/<name>/v<N>/, tags (pure)
        stepmetric.py      metric_def step_metric: the step a history key is sent at
        uploads.py         sending media and artifact files: once per content, thumbnails
        rest.py            `MlflowRest`: the REST calls; turns HTTP trouble into `SyncError`s
        retry.py           backoff with full jitter, bounded by a deadline
        loopback_server.py a throwaway `mlflow server` on loopback for tests, demo and bench

    daemon/                `runwal syncd`: keep a server up to date with a directory of runs
      watch.py             which runs changed: inotify events or polling (network filesystems)
      schedule.py          when each run gets a pass (debounce, backoff, busy, bad runs), no threads
      workers.py           the threads that run the passes the schedule hands out

    inspect/               reading a run for people, no server
      runview.py           a run folded into one view (`ls`, `show`)
      metricstats.py       streaming statistics of one metric series
      verify.py            what `verify` finds: frames, seqs, damage, torn tails
      mediafiles.py        the files media/artifact records name, and whether files/ has them
      dumpformat.py        how `dump` spells a record as JSON, and its --type names
      spelling.py          strict JSON and terminal text for any value a record can hold
      tensorboard.py       `export --tensorboard`: event files in pure Python
      tbmedia.py           media records as TensorBoard summary values (images, histograms, ...)
      protowire.py         the protobuf wire format, as far as those event files need it

    cli/                   the `runwal` command (`python -m syncer.cli`): one module per subcommand
      main.py              the click group and its list of subcommands
      __main__.py          `python -m syncer.cli`
      common.py            the error line, exit statuses, strict ``--json``
      ls.py show.py dump.py verify.py export.py   the inspection commands
      sync.py syncd.py follow.py                  the sync commands (glue: options, signals, output)
      importcmd.py         `runwal import tensorboard|wandb` (``import`` is a keyword): starts
                           the SDK's importer, ``python -m logwriter.importers``, as a process
                           and renders its lines (`schema.import_protocol`); no logwriter import
      run.py               `runwal run -- python train.py`: a script's ``import wandb`` gets
                           the SDK's shim (found on disk, not imported)
      ui.py                a local MLflow plus a syncd into it, for a user with no server
      progress.py          the progress line of `sync` and `import` on stderr
      text.py render.py    what the inspection commands print, and its layout

A sync, end to end: `cli.sync` resolves the server (`sinks.mlflow.connect`),
hands each run dir to `engine.unit.sync_path`, which takes the run's lock and
runs `engine.replay.sync_run`: a `LogCursor` reads frames from the checkpoint
on, batches go to the `Sink`, and the checkpoint is written after the server
acknowledged each batch.
"""
