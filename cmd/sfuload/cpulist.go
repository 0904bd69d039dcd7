package main

import (
	"fmt"
	"strconv"
	"strings"
)

// maxCPU bounds CPU numbers (Linux's default CPU set size is 1024).
const maxCPU = 1024

// parseCPUList parses a CPU list in taskset(1)'s form: numbers and ranges
// separated by commas ("1", "0,2", "2-3").
func parseCPUList(list string) ([]int, error) {
	var cpus []int
	seen := map[int]bool{}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("cpu list %q: %w", list, err)
			}
		}
		if a < 0 || b < a || b >= maxCPU {
			return nil, fmt.Errorf("cpu list %q: bad range %d-%d (CPUs are 0..%d)", list, a, b, maxCPU-1)
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	return cpus, nil
}
