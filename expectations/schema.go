package expectations

import (
	"encoding/json"
	"reflect"
	"strings"
)

// schemaEnums lists the allowed values of fields whose set is closed.
var schemaEnums = map[string]func() []string{
	"mesh.dialect":             func() []string { return []string{"istio", "generic"} },
	"drills[].expect[].intent": func() []string { return strings.Split(intentList(), ", ") },
	"mesh.listener_log":        func() []string { return []string{"nr-only", "all", "none"} },
	"drills[].inject.kind":     func() []string { return strings.Split(kindList(), ", ") },
}

// SuiteSchema returns a JSON Schema (draft 2020-12) for suite files, built
// from the same types the loader decodes into, so the two cannot drift.
func SuiteSchema() ([]byte, error) {
	root := schemaFor(reflect.TypeOf(fileSuite{}), "")
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["title"] = "meshdrill suite"
	root["required"] = []string{"targets", "drills"}
	return json.MarshalIndent(root, "", "  ")
}

func schemaFor(t reflect.Type, path string) map[string]any {
	if t == durationType {
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	}
	if f, ok := schemaEnums[path]; ok {
		return map[string]any{"type": "string", "enum": f()}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaFor(t.Elem(), path)
	case reflect.Struct:
		if ss, ok := reflect.New(t).Interface().(scalarStruct); ok {
			return map[string]any{"anyOf": []any{schemaFor(reflect.TypeOf(""), join(path, ss.scalarField())), structSchema(t, path)}}
		}
		return structSchema(t, path)
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem(), path+".*")}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaFor(t.Elem(), path+"[]")}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int64:
		// ${VAR} references are strings until expanded.
		return map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string", "pattern": `^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`}}}
	case reflect.Float64:
		return map[string]any{"anyOf": []any{map[string]any{"type": "number"}, map[string]any{"type": "string", "pattern": `^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`}}}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{}
}

func structSchema(t reflect.Type, path string) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		props[tag] = schemaFor(t.Field(i).Type, join(path, tag))
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}
