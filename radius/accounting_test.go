package radius

import (
	"encoding/binary"
	"testing"
	"time"
)

func TestEventTime(t *testing.T) {
	arrival := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	tests := []struct {
		name         string
		delay, stamp []byte
		want         time.Time
	}{
		{"neither: the arrival", nil, nil, arrival},
		{"Acct-Delay-Time", u32(30), nil, arrival.Add(-30 * time.Second)},
		{"Acct-Delay-Time wins over Event-Timestamp", u32(30), u32(uint32(arrival.Add(-time.Hour).Unix())), arrival.Add(-30 * time.Second)},
		{"Event-Timestamp", nil, u32(uint32(arrival.Add(-90 * time.Second).Unix())), arrival.Add(-90 * time.Second)},
		{"an Event-Timestamp after the arrival is the NAS's clock running ahead", nil, u32(uint32(arrival.Add(time.Hour).Unix())), arrival},
		{"malformed values are ignored", []byte{1, 2}, []byte{1}, arrival},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &request{acctDelayTime: tt.delay, eventTimestamp: tt.stamp}
			if got := eventTime(arrival, req); !got.Equal(tt.want) {
				t.Errorf("eventTime = %v, want %v", got, tt.want)
			}
		})
	}
}
