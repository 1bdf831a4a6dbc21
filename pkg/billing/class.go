package billing

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Class is the billing class of a person-stamped event (docs/SEMANTICS.md §7).
//
// The zero value is Excluded, so a Class that was never set bills nothing.
// The numeric values are part of the sort order of deltas and reports
// (excluded, anonymous, identified) but not of any wire format: on the wire a
// Class is always its String name.
type Class uint8

const (
	// Excluded events are not billed at all ($feature_flag_called, …).
	Excluded Class = iota
	// Anonymous events are personless: person_mode "propertyless".
	Anonymous
	// Identified events have person processing: person_mode "full" or
	// "force_upgrade".
	Identified
)

// numClasses is the number of defined classes; valid values are below it.
const numClasses = 3

var classNames = [numClasses]string{"excluded", "anonymous", "identified"}

// Classes returns every class in order: Excluded, Anonymous, Identified.
func Classes() []Class { return []Class{Excluded, Anonymous, Identified} }

// String returns "excluded", "anonymous" or "identified"; an undefined value
// prints as "class(N)".
func (c Class) String() string {
	if c.Valid() {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Valid reports whether c is one of the three defined classes.
func (c Class) Valid() bool { return c < numClasses }

// ParseClass parses the exact, lower-case name of a class.
func ParseClass(s string) (Class, error) {
	for i, name := range classNames {
		if s == name {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("billing: %w %q (want excluded, anonymous or identified)", ErrUnknownClass, s)
}

// MarshalText encodes the class as its name; an undefined class is an error.
// It also makes Class usable as a JSON object key.
func (c Class) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("billing: %w %s", ErrUnknownClass, c)
	}
	return []byte(classNames[c]), nil
}

// UnmarshalText decodes a class name (see ParseClass).
func (c *Class) UnmarshalText(b []byte) error {
	v, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// MarshalJSON encodes the class as a JSON string: "anonymous".
func (c Class) MarshalJSON() ([]byte, error) {
	b, err := c.MarshalText()
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON decodes a JSON string holding a class name. JSON null leaves
// c unchanged, as encoding/json expects.
func (c *Class) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("billing: %w: want a JSON string, got %s", ErrUnknownClass, b)
	}
	return c.UnmarshalText([]byte(s))
}
