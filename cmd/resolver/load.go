package main

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// envPrefix prefixes every environment variable the resolver reads:
// state.dir is RESOLVER_STATE_DIR, kafka.embedded.listen is
// RESOLVER_KAFKA_EMBEDDED_LISTEN.
const envPrefix = "RESOLVER"

// keyAnnotation is the pflag annotation that ties a flag to a config key;
// see bindFlag.
const keyAnnotation = "resolver/config-key"

// bindFlag makes the flag named name, once set on the command line,
// override config key key. Flags are bound per command when the config is
// loaded, so two commands may bind different flags to one key (run
// --embedded-listen and broker --listen).
func bindFlag(fs *pflag.FlagSet, name, key string) {
	if err := fs.SetAnnotation(name, keyAnnotation, []string{key}); err != nil {
		panic(err) // a flag that does not exist: a programming error
	}
}

// loadConfig reads the configuration in increasing order of precedence:
// built-in defaults, then the YAML file (if file is not ""), then
// environment variables RESOLVER_<SECTION>_<KEY>, then the flags of flags
// that are bound to keys and were set. Lists in the environment are
// comma-separated. A key in the file that the resolver does not know is an
// error naming it. The result is normalized and validated: every error is a
// *configError or *FieldError (exit code 2).
//
// The second result lists RESOLVER_* environment variables that name no key,
// for the caller to warn about once it has a logger.
func loadConfig(file string, flags *pflag.FlagSet) (Config, []string, error) {
	cfg, stray, err := readConfig(file, flags)
	if err != nil {
		return Config{}, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, err
	}
	return cfg, stray, nil
}

// readConfig is loadConfig without the validation: the configuration as
// read and normalized (`resolver config print` shows an invalid one too).
func readConfig(file string, flags *pflag.FlagSet) (Config, []string, error) {
	v := viper.New()
	defaults := flatten(defaultConfig())
	for k, val := range defaults {
		v.SetDefault(k, val)
	}

	if file != "" {
		fv := viper.New()
		fv.SetConfigFile(file)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return Config{}, nil, configErrorf("--config %s: %v", file, err)
		}
		if err := checkKeys(fv.AllKeys(), defaults); err != nil {
			return Config{}, nil, configErrorf("--config %s: %v", file, err)
		}
		if err := v.MergeConfigMap(fv.AllSettings()); err != nil {
			return Config{}, nil, configErrorf("--config %s: %v", file, err)
		}
	}

	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	if flags != nil {
		var err error
		flags.VisitAll(func(f *pflag.Flag) {
			if keys := f.Annotations[keyAnnotation]; len(keys) == 1 && err == nil {
				err = v.BindPFlag(keys[0], f)
			}
		})
		if err != nil {
			return Config{}, nil, fmt.Errorf("bind flags: %w", err)
		}
	}

	var cfg Config
	if err := v.UnmarshalExact(&cfg); err != nil {
		return Config{}, nil, configErrorf("%v", err)
	}
	cfg.normalize()
	return cfg, unknownEnv(os.Environ(), defaults), nil
}

// openSections are the config sections whose keys are names the user
// chooses (billing.tiers: one key per billing class). checkKeys lets any key
// directly under them through, so that Validate can name a bad one with its
// value ("billing.tiers.premium": unknown class) instead of a bare "unknown
// key".
var openSections = []string{"billing.tiers"}

// checkKeys reports the keys of a config file that are not config keys.
func checkKeys(keys []string, known map[string]any) error {
	var msgs []string
	for _, k := range keys {
		if _, ok := known[k]; ok {
			continue
		}
		if parent, child, ok := cutLast(k); ok && child != "" && slices.Contains(openSections, parent) {
			continue
		}
		if isSection(k, known) {
			msgs = append(msgs, fmt.Sprintf("%s: is a section, not a value", k))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s: unknown key", k))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sort.Strings(msgs)
	return fmt.Errorf("%s (configs/resolver.yaml lists every key)", strings.Join(msgs, "; "))
}

// cutLast splits a dotted key at its last dot: "billing.tiers.premium" is
// "billing.tiers" and "premium".
func cutLast(k string) (parent, child string, ok bool) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return "", "", false
	}
	return k[:i], k[i+1:], true
}

func isSection(k string, known map[string]any) bool {
	for kk := range known {
		if strings.HasPrefix(kk, k+".") {
			return true
		}
	}
	return false
}

// envName is the environment variable of a config key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// unknownEnv lists the RESOLVER_* variables of environ that set no key:
// most likely a typo that would otherwise be silently ignored.
func unknownEnv(environ []string, known map[string]any) []string {
	names := make(map[string]bool, len(known))
	for k := range known {
		names[envName(k)] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") && !names[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// flatten maps every leaf key of a config struct ("kafka.embedded.listen")
// to its value, following mapstructure tags. Structs are sections, and so
// are maps with string keys (billing.tiers: each entry is a key,
// "billing.tiers.identified"); anything else (including time.Duration and
// slices) is a value.
func flatten(cfg any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(key+".", v.Field(i))
				continue
			case f.Type.Kind() == reflect.Map && f.Type.Key().Kind() == reflect.String:
				for it := v.Field(i).MapRange(); it.Next(); {
					out[key+"."+it.Key().String()] = it.Value().Interface()
				}
				continue
			}
			out[key] = v.Field(i).Interface()
		}
	}
	walk("", reflect.ValueOf(cfg))
	return out
}
