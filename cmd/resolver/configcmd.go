package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// The sources of a config key's value, lowest precedence first.
const (
	sourceDefault = "default"
	sourceFile    = "file"
	sourceEnv     = "env"
	sourceFlag    = "flag"
)

// secretKeys are the keys whose values `config print` never shows.
var secretKeys = []string{"identity.master_key", "kafka.sasl.password", "admin.token", "log.redact_key"}

// masked is what `config print` shows of a secret that is set; an unset
// one shows as "".
const masked = "(masked)"

func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate or print the effective configuration",
		Long: `config validate checks the configuration the resolver would run with;
config print shows it, key by key, with where each value comes from. Both read
it as every command does: built-in defaults, then --config FILE, then the
RESOLVER_* environment variables, then flags.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), cmd.CommandPath()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(c.configValidateCmd(), c.configPrintCmd())
	return cmd
}

// invalidConfig is the failure of `config validate`: exit code 1 (the check
// ran and said no), its message every error, one a line.
type invalidConfig struct{ msg string }

func (e *invalidConfig) Error() string { return e.msg }

func (c *cli) configValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration; print OK, or every error naming its key and value (exit 1)",
		Long: `validate loads the configuration (--config FILE, the environment, flags)
and runs every check the resolver runs before it starts: each key's value,
how keys go together, and the files they name (kafka.tls.* certificates,
teams.file). It connects to nothing. It prints OK and exits 0, or prints every
error, each naming its key and the bad value ("config: kafka.topic_partitions:
0: must be at least 1"), and exits 1. RESOLVER_* variables that name no key
are reported as warnings.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, _ := cmd.Flags().GetString("config")
			cfg, stray, err := loadConfig(file, cmd.Flags())
			if err == nil {
				_, err = cfg.ToStream() // reads the TLS files and the team map
			}
			for _, name := range stray {
				fmt.Fprintf(c.stderr, "warning: environment variable %s names no config key; ignored\n", name)
			}
			if err != nil {
				return &invalidConfig{err.Error()}
			}
			src, err := configSources(file, cmd.Flags())
			if err != nil {
				return &invalidConfig{err.Error()}
			}
			n := map[string]int{}
			for _, s := range src {
				n[s]++
			}
			fmt.Fprintf(c.stdout, "OK: %d keys valid (%d from the file, %d from the environment, %d from flags, the rest defaults)\n",
				len(src), n[sourceFile], n[sourceEnv], n[sourceFlag])
			return nil
		},
	}
}

func (c *cli) configPrintCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration, each key with its source (default, file, env, flag)",
		Long: `print shows the configuration the resolver would run with: every key, its
value and where the value comes from (default, file, env or flag), secrets
(identity.master_key, kafka.sasl.password, admin.token, log.redact_key)
shown as "(masked)" when set. --format yaml (the default) writes the file's
sections with the source as a comment on each line; --format json writes a
list of {"key", "value", "source"}. A configuration that does not validate is
printed all the same, then its errors, and the exit code is 1.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, _ := cmd.Flags().GetString("format")
			if format != "yaml" && format != "json" {
				return &usageError{fmt.Errorf("%s: --format %q: must be yaml or json", cmd.CommandPath(), format), cmd.CommandPath()}
			}
			file, _ := cmd.Flags().GetString("config")
			cfg, _, err := readConfig(file, cmd.Flags())
			if err != nil {
				return &invalidConfig{err.Error()}
			}
			src, err := configSources(file, cmd.Flags())
			if err != nil {
				return &invalidConfig{err.Error()}
			}
			entries := configEntries(cfg, src)
			if format == "json" {
				err = printConfigJSON(c.stdout, entries)
			} else {
				err = printConfigYAML(c.stdout, entries)
			}
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return &invalidConfig{err.Error()}
			}
			return nil
		},
	}
	cmd.Flags().String("format", "yaml", "yaml or json")
	return cmd
}

// configSources maps every key to the source of its value: the flag if a
// flag bound to it was set, else the environment variable if it is set and
// not empty (viper ignores empty ones), else the file if it has the key,
// else the default. A key only a file can add (a billing.tiers class) is
// included when the file has it.
func configSources(file string, flags *pflag.FlagSet) (map[string]string, error) {
	defaults := flatten(defaultConfig())
	src := make(map[string]string, len(defaults))
	for k := range defaults {
		src[k] = sourceDefault
	}
	if file != "" {
		fv := viper.New()
		fv.SetConfigFile(file)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return nil, configErrorf("--config %s: %v", file, err)
		}
		for _, k := range fv.AllKeys() {
			src[k] = sourceFile
		}
	}
	for k := range defaults {
		if os.Getenv(envName(k)) != "" {
			src[k] = sourceEnv
		}
	}
	if flags != nil {
		flags.VisitAll(func(f *pflag.Flag) {
			if keys := f.Annotations[keyAnnotation]; len(keys) == 1 && f.Changed {
				src[keys[0]] = sourceFlag
			}
		})
	}
	return src, nil
}

// configEntry is one key of the effective configuration.
type configEntry struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// configEntries lists the keys of cfg in the order of configs/resolver.yaml
// (the struct's), a map's entries (billing.tiers) by name, with their
// sources and secrets masked.
func configEntries(cfg Config, src map[string]string) []configEntry {
	var out []configEntry
	add := func(key string, v any) {
		if d, ok := v.(time.Duration); ok {
			v = durationString(d)
		}
		if s, ok := v.(string); ok && s != "" && slices.Contains(secretKeys, key) {
			v = masked
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
			v = []any{}
		}
		source := src[key]
		if source == "" {
			source = sourceFile // a key no default has: only a file adds one
		}
		out = append(out, configEntry{Key: key, Value: v, Source: source})
	}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			key, f := prefix+tag, v.Field(i)
			switch {
			case f.Kind() == reflect.Struct:
				walk(key+".", f)
			case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String:
				names := make([]string, 0, f.Len())
				for _, k := range f.MapKeys() {
					names = append(names, k.String())
				}
				slices.Sort(names)
				for _, n := range names {
					add(key+"."+n, f.MapIndex(reflect.ValueOf(n).Convert(f.Type().Key())).Interface())
				}
			default:
				add(key, f.Interface())
			}
		}
	}
	walk("", reflect.ValueOf(cfg))
	return out
}

// durationString is a duration as configs/resolver.yaml writes it: 10m,
// not 10m0s.
func durationString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func printConfigJSON(w io.Writer, entries []configEntry) error {
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printConfigYAML writes the entries as the sections of configs/resolver.yaml,
// each value in JSON (which YAML reads) and its source as a comment, so
// that the output (secrets aside) is itself a config file.
func printConfigYAML(w io.Writer, entries []configEntry) error {
	var open []string // the sections the previous line is in
	for _, e := range entries {
		parts := strings.Split(e.Key, ".")
		sections, name := parts[:len(parts)-1], parts[len(parts)-1]
		common := 0
		for common < len(open) && common < len(sections) && open[common] == sections[common] {
			common++
		}
		for i := common; i < len(sections); i++ {
			if i == 0 && len(open) > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s%s:\n", strings.Repeat("  ", i), sections[i])
		}
		open = sections
		b, err := json.Marshal(e.Value)
		if err != nil {
			return fmt.Errorf("config print: %s: %w", e.Key, err)
		}
		if _, err := fmt.Fprintf(w, "%s%s: %s  # %s\n", strings.Repeat("  ", len(sections)), name, b, e.Source); err != nil {
			return err
		}
	}
	return nil
}
