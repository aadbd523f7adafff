package diag

// Rule names. They are part of dpforge's output contract: stable, kebab-case,
// never reused for another meaning.
const (
	// Reading the input.
	RuleIO           = "io"             // the file cannot be read
	RuleYAML         = "yaml"           // not well-formed YAML
	RuleYAMLAlias    = "yaml-alias"     // aliases and merge keys are refused
	RuleFileTooLarge = "file-too-large" // over the size or node-count bound
	RuleEmpty        = "empty"          // nothing to check
	RuleWrongType    = "wrong-type"     // a mapping where a scalar belongs, ...
	RuleUnknownKey   = "unknown-key"    // a key the matrix format does not have
	RuleMissingKey   = "missing-key"    // a required key is absent
	RuleDuplicateKey = "duplicate-key"  // the same key twice
	RuleInvalidName  = "invalid-name"   // not a DNS-1123 label
	RuleInvalidPath  = "invalid-path"   // an unsafe or unreadable path
	RuleProbe        = "probe"          // a probe file that cannot be used
	RuleMissingInput = "missing-kernel" // a ConfigMap without --kernel
	RuleManifest     = "manifest"       // a rendered manifest without a cilium-config ConfigMap

	// Nodes, kernels and releases.
	RuleDuplicateNode  = "duplicate-node"
	RuleUnknownKernel  = "unknown-kernel"
	RuleInvalidVersion = "invalid-version"
	RuleTooManyCells   = "too-many-cells"
	RuleCiliumVersion  = "cilium-version" // a release dpforge does not model

	// Options.
	RuleUnknownOption   = "unknown-option"   // no Cilium release has the key
	RuleUnmodeledOption = "unmodeled-option" // Cilium has it, dpforge does not model it
	RuleNotInRelease    = "not-in-release"   // the release judged has no such key (removed, or not yet added)
	RuleInvalidValue    = "invalid-value"
	RuleDeprecated      = "deprecated"
	RuleIgnoredOption   = "ignored-option" // set, but without effect in this configuration

	// The model.
	RuleConflict          = "conflict"
	RuleMissingDependency = "missing-dependency"
	RuleMissingOption     = "missing-option"
	RuleUnsupportedValue  = "unsupported-value"
	RuleKernelTooOld      = "kernel-too-old"
	RuleDowngrade         = "downgrade"
	RuleNotInDatapath     = "not-in-datapath"
	RuleUnloadable        = "datapath-unloadable"
)

// Rule names of packet scenario files.
const (
	RuleSyntax          = "syntax"
	RuleDuplicate       = "duplicate"
	RuleBadValue        = "bad-value"
	RuleBadAddress      = "bad-address"
	RuleOutOfRange      = "out-of-range"
	RuleUnknownProgram  = "unknown-program"
	RuleUnknownMap      = "unknown-map"
	RuleUnknownField    = "unknown-field"
	RuleUnknownVariable = "unknown-variable"
	RuleUnsupported     = "unsupported"
	RuleRejected        = "rejected" // the kernel refused the scenario's setup
)
