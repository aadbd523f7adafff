// Package features is dpforge's feature model: the pure, declarative core that
// decides what a node's datapath contains.
//
// Vocabulary:
//
//   - An Option is one of Cilium's agent options (kebab-case, as in the
//     cilium-config ConfigMap) that dpforge models, with its kind, default and
//     allowed values. A Config is a set of option values for one node.
//   - The option registry (OptionInfo, LookupOption, KnownOptions; data in
//     options/cilium-options.tsv) lists every key of Cilium 1.12 to 1.20
//     with the releases that added, deprecated and removed it.
//   - A Release is a Cilium minor release. A Config names one
//     (cilium-version) or is judged as Newest. Before the table is consulted
//     the configuration is read as that release's agent reads it: keys the
//     release lacks are dropped and words it reads differently rewritten or
//     refused (release_rules.go); requirements may hold only Since or Until a
//     release.
//   - A Distro is a named distribution kernel (rhel8) whose capability
//     claims, each with its source, win over its version number.
//   - A Kernel is a kernel profile: a version and, when it was probed, the
//     capabilities the probe saw. Capabilities (helpers, map, program and
//     attach types, instruction sets) otherwise come from a table of
//     documented minimum versions; a probed capability wins over the table.
//   - A Feature is one row of the feature table: the option that asks for it,
//     its #define names, its Stage (compile time, load time, or agent only),
//     its requirements (kernel capabilities, other features, conflicts) and
//     what happens when a requirement is unmet (an error, or a downgrade with
//     a recorded reason, optionally to a fallback feature).
//   - Resolve is a pure function of a Config and a Kernel. It yields a
//     Resolution: a Decision per feature (state and reason), the node's
//     Variant (its compile-time defines plus the target instruction set, with
//     a stable short id), its load-time Values, and Problems in the input
//     (severity and rule names from features/diag). A Resolver resolves many
//     nodes and shares the work between those that differ only in per-node
//     values.
//
// The package imports only the standard library: no YAML, no files, no
// kernel. Kernel facts are inputs; probing the running kernel lives in
// features/probe.
package features
