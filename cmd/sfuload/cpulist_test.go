package main

import (
	"slices"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"1": {1}, "0,2": {0, 2}, "2-3": {2, 3}, " 0 , 2-4 ,3": {0, 2, 3, 4}, "1023": {1023},
	} {
		got, err := parseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1-", "-1", "3-2", "1024", "0-99999999", "1,,2", "1-2-3"} {
		if got, err := parseCPUList(in); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", in, got)
		}
	}
}

func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"1", "0,2", "2-3", "0-1023", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := parseCPUList(s)
		if err != nil {
			return
		}
		if len(cpus) == 0 {
			t.Fatalf("%q: no CPU and no error", s)
		}
		for _, c := range cpus {
			if c < 0 || c >= maxCPU {
				t.Fatalf("%q: CPU %d out of range", s, c)
			}
		}
	})
}
