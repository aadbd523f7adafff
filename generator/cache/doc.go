// Package cache is dpforge's content-addressed object cache, like Go's build
// cache: an entry's key is the hash of the complete description of a compile
// (the caller derives it), an entry is the object plus a record of its hash
// and of the system headers the compile read, and every write is a temporary
// file renamed into place.
//
// It also holds what the users of the cache directory share: DefaultDir
// (where the cache lives), Lock (an flock that serializes processes on one
// path) and SHA256Hex (the form every hash takes in records and manifests).
package cache
