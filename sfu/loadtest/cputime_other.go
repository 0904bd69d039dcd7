//go:build !unix

package loadtest

import "time"

// cpuTime is not measured on this system: CPU figures read as zero.
func cpuTime() time.Duration { return 0 }
