package event

import "sync"

// Reusing Events. Building the Properties map is the largest single cost of
// Decode (a 16-property event needs a 32-slot table, about 1.4 KiB of fresh
// memory), so a caller that is done with an Event may hand it back with
// Release and the next Decode reuses its map and key order (with
// Options.LazyProperties, its property list), and its list of top-level
// members passed through.

// maxPooledProperties is the largest Properties map kept for reuse; a
// bigger one is left to the garbage collector.
const maxPooledProperties = 128

// maxPooledExtras is the most top-level members passed through that a
// released Event keeps room for.
const maxPooledExtras = 32

var eventPool sync.Pool // of *Event with an empty Properties map

// newEvent returns a zero Event, with an empty Properties map, key-order
// buffer, property list and list of passed-through members when a released
// one is available.
func newEvent() *Event {
	if e, ok := eventPool.Get().(*Event); ok {
		return e
	}
	return new(Event)
}

// Release hands e back for reuse by a later Decode. It is optional — an
// Event that is never released is simply garbage collected — and pays off
// on the hot path: call it once the stamped event has been encoded.
//
// After Release, neither e nor its Properties map may be used: the next
// Decode may fill them with another event (and its property list, with
// Options.LazyProperties). Everything else taken from e
// stays valid — its strings, its json.RawMessage values (which live in
// their own buffer, never reused), its Set and SetOnce maps and its Unset
// and Warnings slices. Releasing an Event twice, or one still in use by
// another goroutine, is a bug.
func (e *Event) Release() {
	if e == nil {
		return
	}
	m := e.Properties
	if len(m) > maxPooledProperties {
		m = nil
	}
	clear(m)
	refs := e.order.refs[:0]
	props := e.props
	if cap(props) > maxPooledProperties {
		props = nil
	}
	clear(props[:cap(props)]) // drop the references into this event's input
	extras := e.extras
	if cap(extras) > maxPooledExtras {
		extras = nil
	}
	clear(extras[:cap(extras)])
	*e = Event{Properties: m}
	e.order.refs, e.props, e.extras = refs, props[:0], extras[:0]
	eventPool.Put(e)
}
