package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// TierSpec is one tier as written in configuration or in a tier file. The
// price is text so that it stays exact ("0.0000343"; never a float).
// UpTo 0, or absent, means open-ended.
//
// The struct carries json, yaml and mapstructure tags so that the caller can
// decode it with whatever it already uses (this package imports no YAML or
// config library). With viper, quote prices in YAML: an unquoted number is a
// float64 on its way through viper.
type TierSpec struct {
	// UpTo is the monthly event count (events per team, class and UTC
	// month) at which the tier ends, inclusive. Default 0: open-ended,
	// allowed only for the last tier.
	UpTo int64 `json:"up_to,omitempty" yaml:"up_to,omitempty" mapstructure:"up_to"`
	// UnitPrice is USD per event as a decimal string, at most nine
	// decimals, zero or more. Required.
	UnitPrice string `json:"unit_price" yaml:"unit_price" mapstructure:"unit_price"`
}

// TierFile is the tiers of each class by class name, the shape of both the
// billing.tiers config section and a --tiers file:
//
//	{
//	  "identified": [
//	    {"up_to": 1000000, "unit_price": "0"},
//	    {"up_to": 2000000, "unit_price": "0.000248"},
//	    {"unit_price": "0.0001"}
//	  ],
//	  "anonymous": [
//	    {"up_to": 1000000, "unit_price": "0"},
//	    {"unit_price": "0.00005"}
//	  ]
//	}
//
// Both anonymous and identified must be present; excluded is never priced.
// The same in YAML:
//
//	identified:
//	  - {up_to: 1000000, unit_price: "0"}
//	  - {unit_price: "0.0001"}
//	anonymous:
//	  - {up_to: 1000000, unit_price: "0"}
//	  - {unit_price: "0.00005"}
type TierFile map[string][]TierSpec

// Pricing converts f and validates the result (see Pricing.Validate). Every
// problem is returned, joined, as a *ConfigError naming the key under key
// (for example "billing.tiers.anonymous[1].unit_price") and the bad value.
func (f TierFile) Pricing(key string) (Pricing, error) {
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	slices.Sort(names)

	p := make(Pricing, len(f))
	var errs []error
	for _, name := range names {
		ck := joinKey(key, name)
		c, err := ParseClass(name)
		if err != nil {
			errs = append(errs, configErr(ck, strconv.Quote(name), ErrUnknownClass, "want anonymous or identified"))
			continue
		}
		tiers := make(Tiers, len(f[name]))
		for i, spec := range f[name] {
			price, err := parseDecimal(spec.UnitPrice)
			if err != nil {
				errs = append(errs, &ConfigError{
					Key:   ck + "[" + strconv.Itoa(i) + "].unit_price",
					Value: strconv.Quote(spec.UnitPrice),
					Err:   err,
				})
			}
			tiers[i] = Tier{UpTo: spec.UpTo, UnitPrice: price}
		}
		p[c] = tiers
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...) // bad names and prices first; bounds are judged on good input
	}
	if err := p.Validate(key); err != nil {
		return nil, err
	}
	return p, nil
}

// Spec returns p in the TierFile shape, prices formatted with FormatUSD:
// what p looks like in a config file. Classes p does not hold are omitted.
func (p Pricing) Spec() TierFile {
	f := make(TierFile, len(p))
	for c, tiers := range p {
		specs := make([]TierSpec, len(tiers))
		for i, t := range tiers {
			specs[i] = TierSpec{UpTo: t.UpTo, UnitPrice: FormatUSD(t.UnitPrice)}
		}
		f[c.String()] = specs
	}
	return f
}

// LoadTiersJSON reads a tier file in JSON (the shape of TierFile) and returns
// the validated Pricing. Keys in errors are relative to the file's root
// ("identified[2].up_to"); prefix the file name when reporting them.
//
// Beyond decoding into TierFile it accepts a unit_price written as a JSON
// number (0.0000343) and takes its literal text, so it is still exact, and it
// rejects unknown fields ("upto") by name. Every error is a *ConfigError
// (IsConfigError reports true).
func LoadTiersJSON(r io.Reader) (Pricing, error) {
	var raw map[string][]map[string]json.RawMessage
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, configErr("(tier file)", "", ErrInvalidTierFile,
			`%v; want {"identified": [{"up_to": 1000000, "unit_price": "0"}, ...], "anonymous": [...]}`, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, configErr("(tier file)", "", ErrInvalidTierFile, "trailing data after the JSON object")
	}
	if raw == nil {
		return nil, configErr("(tier file)", "null", ErrInvalidTierFile, "want a JSON object")
	}
	f := make(TierFile, len(raw))
	var errs []error
	for name, tiers := range raw {
		specs := make([]TierSpec, len(tiers))
		for i, fields := range tiers {
			at := name + "[" + strconv.Itoa(i) + "]"
			spec, err := decodeTierSpec(at, fields)
			if err != nil {
				errs = append(errs, err)
			}
			specs[i] = spec
		}
		f[name] = specs
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	return f.Pricing("")
}

// decodeTierSpec decodes the fields of one tier object, naming key at on
// every error.
func decodeTierSpec(at string, fields map[string]json.RawMessage) (TierSpec, error) {
	var spec TierSpec
	var errs []error
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := bytes.TrimSpace(fields[name])
		key := at + "." + name
		switch name {
		case "up_to":
			if string(v) == "null" {
				continue
			}
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				errs = append(errs, configErr(key, string(v), ErrInvalidTierFile, "want a whole number of events, or 0 for open-ended"))
				continue
			}
			spec.UpTo = n
		case "unit_price":
			switch {
			case len(v) > 0 && v[0] == '"':
				if err := json.Unmarshal(v, &spec.UnitPrice); err != nil {
					errs = append(errs, configErr(key, string(v), ErrInvalidTierFile, "%v", err))
				}
			case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
				spec.UnitPrice = string(v) // a JSON number's literal text: exact
			default:
				errs = append(errs, configErr(key, string(v), ErrInvalidTierFile, `want a decimal string such as "0.0000343"`))
			}
		default:
			errs = append(errs, configErr(key, "", ErrInvalidTierFile, "unknown field (want up_to and unit_price)"))
		}
	}
	if _, ok := fields["unit_price"]; !ok {
		errs = append(errs, configErr(at+".unit_price", "", ErrInvalidTierFile, "missing"))
	}
	return spec, errors.Join(errs...)
}
