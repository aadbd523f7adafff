package scenario

// LoadWhole makes r load whole sets of programs per set of values, as it
// does for objects that do not allow loading programs apart.
func LoadWhole(r *Runner) {
	if r.perProgram != nil {
		r.perProgram.close()
		r.perProgram = nil
	}
}

// LoadsApart says whether r loads programs apart.
func LoadsApart(r *Runner) bool { return r.perProgram != nil }
