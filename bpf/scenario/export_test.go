package scenario

// Loads is how many collections r loaded.
func Loads(r *Runner) int { return r.loads }
