package bpf

import "embed"

// Source holds the datapath's C sources: [MainFile] and the include
// directory it includes from. Compile it by writing Source to a directory
// and running clang on MainFile there with -I pointing at a directory
// that holds the variant's [VariantHeader]; the includes are relative to
// MainFile, so no other -I is needed for them.
//
//go:embed datapath.c include
var Source embed.FS

// MainFile is the translation unit to compile, relative to [Source].
const MainFile = "datapath.c"

// VariantHeader is the header MainFile includes first. The generator
// writes one per variant, holding the variant's compile-time [Macros].
const VariantHeader = "dp_variant.h"
