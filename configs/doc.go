// Package configs is the server's configuration: the schema (Sockudo's
// config.json keys), every default, loading with ${VAR} substitution,
// environment overrides with Sockudo's variable names, and validation.
//
// It imports nothing of ours, so cmd is the only place that maps a Config
// onto the engine's, httpapi's and expose's option structs; no other package
// reads files or environment variables.
//
// Usage:
//
//  1. cfg, warnings, err := configs.Load(path, os.LookupEnv) — path may be
//     "" for defaults plus environment. Print every warning (unknown keys,
//     each named by its dotted path); stop on err, which names the key or
//     the environment variable at fault.
//  2. Apply command-line flags on top of cfg (flags beat env, env beats the
//     file), then call cfg.ApplyDefaults() and cfg.Validate() again.
//  3. Read the sections you need: cfg.Apps() for the apps (per-app limits
//     already filled from the global event_limits, presence and
//     channel_limits sections by ApplyDefaults), cfg.Metrics, cfg.Adapter…
//     Durations are Seconds or Millis; call Duration() on them.
//
// A Config built in code instead of loaded starts from Default(); call
// ApplyDefaults and Validate before using it.
//
// Config values are plain data with no internal locking: build one, then
// share it read-only.
package configs
