package bench

import (
	"syscall"
	"time"
)

// sleepExact sleeps for d with the kernel's timer precision. time.Sleep here wakes up to a millisecond
// late (the runtime's poller waits in whole milliseconds), which turned the delay line's 15 ms round trip
// into about 17; nanosleep(2) blocks one thread of the delay line and wakes within microseconds.
func sleepExact(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		err := syscall.Nanosleep(&ts, &rem)
		if err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
