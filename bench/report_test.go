package main

import "testing"

func TestRoundSpread(t *testing.T) {
	for _, c := range []struct {
		a, b []float64
		want string
	}{
		{[]float64{100, 90, 110}, []float64{100, 100, 100}, " [0.90-1.10]"},
		{[]float64{100}, []float64{50}, ""},
		{[]float64{100, 100}, []float64{100}, ""},
		{[]float64{100, 100}, []float64{100, 0}, ""},
	} {
		if got := roundSpread(loadResult{RoundRTPS: c.a}, loadResult{RoundRTPS: c.b}); got != c.want {
			t.Errorf("roundSpread(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
