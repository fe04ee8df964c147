package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts the name of every environment variable that overrides a
// config key: ROAMGATE_RADIUS_AUTH_LISTEN overrides radius.auth_listen,
// ROAMGATE_RADIUS_CLIENTS_0_SECRET overrides radius.clients[0].secret.
const EnvPrefix = "ROAMGATE_"

// Load returns the demo defaults overlaid with the YAML file at path (if path
// is not empty) and then with ROAMGATE_… environment variables, validated.
func Load(path string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// decodeYAML decodes data onto cfg after checking every key and scalar
// against the struct, so that mistakes are reported with their key path
// ("radius.clients[0].secrt: unknown key") rather than a line number alone.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is the defaults
		}
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if err := checkNode(root, reflect.TypeOf(*cfg), ""); err != nil {
		return err
	}
	return root.Decode(cfg)
}

var durationType = reflect.TypeOf(time.Duration(0))

func checkNode(n *yaml.Node, t reflect.Type, key string) error {
	where := func() string {
		if key == "" {
			return fmt.Sprintf("line %d", n.Line)
		}
		return fmt.Sprintf("%s (line %d)", key, n.Line)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping", where())
		}
		fields := yamlFields(t)
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			name := n.Content[i].Value
			child := join(key, name)
			f, ok := fields[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s (line %d): unknown key (known: %s)", child, n.Content[i].Line, strings.Join(slices.Sorted(maps.Keys(fields)), ", ")))
				continue
			}
			if err := checkNode(n.Content[i+1], f.Type, child); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s: want a list", where())
		}
		var errs []error
		for i, c := range n.Content {
			if err := checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping", where())
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkNode(n.Content[i+1], t.Elem(), join(key, n.Content[i].Value)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	default:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a single value", where())
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			return fmt.Errorf("%s: %q is not a valid %s", where(), n.Value, typeName(t))
		}
		return nil
	}
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration (like 90s, 30m, 24h)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	}
	return t.String()
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// applyEnv overlays ROAMGATE_… variables onto cfg. Scalars and lists of
// scalars (comma separated) can be set; list elements that exist can be
// reached by index. A ROAMGATE_ variable that names no key is an error, so a
// typo does not silently leave the default in place.
func applyEnv(cfg *Config, environ []string) error {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	if len(vars) == 0 {
		return nil
	}
	var errs []error
	used := map[string]bool{}
	walkEnv(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(EnvPrefix, "_"), "", func(env, key string, v reflect.Value) {
		s, ok := vars[env]
		if !ok {
			return
		}
		used[env] = true
		if err := setScalar(v, s); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %q is not a valid %s", key, env, s, typeName(v.Type())))
		}
	})
	for env := range vars {
		if !used[env] && env != "ROAMGATE_CONFIG" {
			errs = append(errs, fmt.Errorf("%s: names no config key", env))
		}
	}
	return errors.Join(errs...)
}

func walkEnv(v reflect.Value, env, key string, visit func(env, key string, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for name, f := range yamlFields(t) {
			walkEnv(v.FieldByIndex(f.Index), env+"_"+strings.ToUpper(name), join(key, name), visit)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := 0; i < v.Len(); i++ {
				walkEnv(v.Index(i), env+"_"+strconv.Itoa(i), fmt.Sprintf("%s[%d]", key, i), visit)
			}
			return
		}
		visit(env, key, v)
	case reflect.Map:
		// Maps (per-language texts) are set in the file only.
	default:
		visit(env, key, v)
	}
}

func setScalar(v reflect.Value, s string) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := setScalar(p.Elem(), s); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if v.Kind() == reflect.Slice {
		parts := strings.Split(s, ",")
		out := reflect.MakeSlice(v.Type(), 0, len(parts))
		for _, p := range parts {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := setScalar(e, strings.TrimSpace(p)); err != nil {
				return err
			}
			out = reflect.Append(out, e)
		}
		v.Set(out)
		return nil
	}
	// Reuse the YAML scalar rules so that env and file accept the same forms.
	var n yaml.Node
	n.SetString(s)
	n.Tag = ""
	n.Style = 0
	return n.Decode(v.Addr().Interface())
}
