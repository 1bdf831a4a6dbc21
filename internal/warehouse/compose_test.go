package warehouse

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// composeKafkaAddr is the broker's address inside the compose network: the
// resolvers' kafka.brokers and ClickHouse's kafka_broker_list.
const composeKafkaAddr = "kafka:9092"

// composeFile is the part of the Compose specification docker-compose.yml
// uses; decoding with KnownFields makes a misspelt key an error.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	// Extension fields hold the YAML anchors.
	ResolverEnv map[string]string `yaml:"x-resolver-env"`
	Resolver    composeService    `yaml:"x-resolver"`
}

type composeService struct {
	Image       string                      `yaml:"image"`
	Build       *composeBuild               `yaml:"build"`
	Hostname    string                      `yaml:"hostname"`
	Command     any                         `yaml:"command"`
	Entrypoint  []string                    `yaml:"entrypoint"`
	Environment map[string]string           `yaml:"environment"`
	Ports       []string                    `yaml:"ports"`
	Volumes     []string                    `yaml:"volumes"`
	DependsOn   map[string]composeDependsOn `yaml:"depends_on"`
	Restart     string                      `yaml:"restart"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Ulimits map[string]struct {
		Soft int `yaml:"soft"`
		Hard int `yaml:"hard"`
	} `yaml:"ulimits"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeDependsOn struct {
	Condition string `yaml:"condition"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c composeFile
	require.NoError(t, dec.Decode(&c), "docker-compose.yml")
	return c
}

// resolverServices are the services that run the resolver image.
func resolverServices(c composeFile) []string {
	var out []string
	for name, s := range c.Services {
		if s.Build != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// envName is the environment variable of a config key, as cmd/resolver
// reads it: RESOLVER_ + the key upper-cased, dots as underscores.
func envName(key string) string {
	return "RESOLVER_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// publishedPort splits "HOST:CONTAINER" or "IP:HOST:CONTAINER" (then
// ip is not empty).
func publishedPort(t *testing.T, p string) (host, container int) {
	host, container, _ = publishedPortIP(t, p)
	return host, container
}

func publishedPortIP(t *testing.T, p string) (host, container int, ip string) {
	t.Helper()
	if i := strings.LastIndex(p, ":"); strings.Count(p, ":") == 2 && i > 0 {
		j := strings.Index(p, ":")
		ip, p = p[:j], p[j+1:]
	}
	h, c, ok := strings.Cut(p, ":")
	require.True(t, ok, "port %q is [IP:]HOST:CONTAINER", p)
	var err error
	host, err = strconv.Atoi(h)
	require.NoError(t, err, p)
	container, err = strconv.Atoi(c)
	require.NoError(t, err, p)
	return host, container, ip
}

var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(:-([^}]*))?\}`)

// required is Compose's ${VAR:?message}: VAR must be set, or `docker
// compose` refuses to start.
var required = regexp.MustCompile(`\$\{([A-Z0-9_]+):\?[^}]*\}`)

// expand applies Compose's ${VAR:-default} with no variables set, and
// ${VAR:?message} as if VAR were set to "<VAR>".
func expand(s string) string {
	s = required.ReplaceAllString(s, "<$1>")
	return interpolation.ReplaceAllString(s, "$3")
}

// TestComposeServices checks the shape of the deployment: a broker, a
// topic-creating one-shot, three resolvers in one group, ClickHouse; every
// image pinned; every dependency a service.
func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	assert.Equal(t, []string{"resolver-1", "resolver-2", "resolver-3"}, resolverServices(c))
	for _, want := range []string{"kafka", "kafka-init", "clickhouse", "prometheus", "grafana"} {
		assert.Contains(t, c.Services, want)
	}
	for name, s := range c.Services {
		if s.Build != nil {
			assert.Equal(t, ".", s.Build.Context, name)
			assert.Equal(t, "Dockerfile", s.Build.Dockerfile, name)
			continue
		}
		repo, tag, ok := strings.Cut(s.Image, ":")
		assert.True(t, ok && repo != "" && tag != "" && tag != "latest", "%s: image %q is pinned to a version", name, s.Image)
		assert.Regexp(t, `^v?\d+(\.\d+)+`, tag, "%s: image tag %q is a version", name, tag)
		for dep, d := range s.DependsOn {
			assert.Contains(t, c.Services, dep, "%s depends on an unknown service", name)
			assert.Contains(t, []string{"service_started", "service_healthy", "service_completed_successfully"}, d.Condition)
			if d.Condition == "service_healthy" {
				assert.NotNil(t, c.Services[dep].Healthcheck, "%s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	assert.Equal(t, c.Services["kafka"].Image, c.Services["kafka-init"].Image, "the one-shot uses the broker's tools")

	// Named volumes are declared; every service's state is on one.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				assert.Contains(t, c.Volumes, src, "%s uses undeclared volume %s", name, src)
			}
		}
	}
}

// TestComposeResolvers checks the three resolver instances: RESOLVER_*
// variables that name keys of configs/resolver.yaml, one group, distinct
// instance ids and state volumes, the state volume on state.dir, the admin
// port published as 9464, 9465, 9466 and listening beyond loopback.
func TestComposeResolvers(t *testing.T) {
	c := loadCompose(t)
	keys := configKeys(t)
	envKey := map[string]string{}
	for k := range keys {
		envKey[envName(k)] = k
	}
	ids, vols := map[string]string{}, map[string]string{}
	for i, name := range resolverServices(c) {
		s := c.Services[name]
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = expand(v)
		}
		for k := range env {
			_, ok := envKey[k]
			assert.True(t, ok, "%s: %s is not RESOLVER_<SECTION>_<KEY> of a key of configs/resolver.yaml", name, k)
		}
		assert.Equal(t, composeKafkaAddr, env["RESOLVER_KAFKA_BROKERS"], name)
		assert.Equal(t, "resolver", env["RESOLVER_KAFKA_GROUP"], "%s: all instances in one group", name)
		assert.NotEmpty(t, env["RESOLVER_ADMIN_TOKEN"], "%s: a non-loopback admin server has a token", name)
		// Issue 11: the token had a well-known default. It must be set by
		// whoever starts the deployment.
		assert.Regexp(t, `^\$\{RESOLVER_ADMIN_TOKEN:\?`, s.Environment["RESOLVER_ADMIN_TOKEN"], "%s: the admin token has no default", name)

		id := env["RESOLVER_KAFKA_INSTANCE_ID"]
		require.NotEmpty(t, id, "%s: an instance id that survives the container's new hostname on restart", name)
		assert.NotContains(t, ids, id, "%s: instance id %s also used by %s", name, id, ids[id])
		ids[id] = name

		stateDir := env["RESOLVER_STATE_DIR"]
		require.NotEmpty(t, stateDir, name)
		var stateVol string
		for _, v := range s.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			if dst == stateDir {
				stateVol = src
			}
		}
		require.NotEmpty(t, stateVol, "%s: state.dir %s is on a volume", name, stateDir)
		assert.NotContains(t, vols, stateVol, "%s: state volume %s also used by %s", name, stateVol, vols[stateVol])
		vols[stateVol] = name

		host, port, err := net.SplitHostPort(env["RESOLVER_ADMIN_ADDR"])
		require.NoError(t, err, name)
		assert.Equal(t, "0.0.0.0", host, "%s: the admin server listens beyond loopback to be published", name)
		require.Len(t, s.Ports, 1, name)
		hp, cp, ip := publishedPortIP(t, s.Ports[0])
		assert.Equal(t, "127.0.0.1", ip, "%s: the admin port (/v1/persons) is published on the host's loopback only", name)
		assert.Equal(t, 9464+i, hp, "%s: admin port", name)
		assert.Equal(t, port, strconv.Itoa(cp), "%s: the published port is the admin port", name)

		assert.Equal(t, "service_completed_successfully", s.DependsOn["kafka-init"].Condition, "%s starts once the topics exist", name)
	}
	require.Len(t, ids, 3)

	// The broker the resolvers and ClickHouse use is an advertised listener.
	kafkaEnv := c.Services["kafka"].Environment
	assert.Contains(t, strings.Split(kafkaEnv["KAFKA_ADVERTISED_LISTENERS"], ","), "PLAINTEXT://"+composeKafkaAddr)
	assert.Equal(t, "1", kafkaEnv["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"], "one node: transactions need a replication factor of 1")
	assert.Equal(t, "1", kafkaEnv["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"])
	assert.Equal(t, "1", kafkaEnv["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"])
}

// TestComposeTopicsAndClickHouse checks that the one-shot creates exactly
// the topics of configs/resolver.yaml with the resolvers' partition count,
// identity_keys compacted and identity_commands with one partition, as the
// resolver would create them (a topic that exists is left as it is), and
// that ClickHouse runs configs/clickhouse at start.
func TestComposeTopicsAndClickHouse(t *testing.T) {
	c := loadCompose(t)
	init := c.Services["kafka-init"]
	script, ok := init.Command.([]any)
	require.True(t, ok && len(script) == 1, "kafka-init's command is one script")
	text := script[0].(string)
	m := regexp.MustCompile(`for topic in ([a-z_ ]+); do`).FindStringSubmatch(text)
	require.NotNil(t, m, "kafka-init loops over the topics:\n%s", text)
	topics := topicNames(t)
	var want []string
	for key, n := range topics {
		if key != "identity_keys" && key != "commands" {
			want = append(want, n)
		}
	}
	assert.ElementsMatch(t, want, strings.Fields(m[1]))
	assert.Contains(t, text, "--topic "+topics["commands"]+" --partitions 1 ", "identity_commands has one partition")
	var compacted []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "kafka-topics.sh") && strings.Contains(line, "--config cleanup.policy=compact") {
			compacted = append(compacted, line)
		}
	}
	require.Len(t, compacted, 1, "kafka-init creates one compacted topic:\n%s", text)
	assert.Contains(t, compacted[0], "--topic "+topics["identity_keys"]+" ")
	assert.Contains(t, compacted[0], "--create --if-not-exists")
	assert.Contains(t, compacted[0], "--partitions "+c.Services["resolver-1"].Environment["RESOLVER_KAFKA_TOPIC_PARTITIONS"]+" ")
	parts := c.Services["resolver-1"].Environment["RESOLVER_KAFKA_TOPIC_PARTITIONS"]
	assert.Contains(t, text, fmt.Sprintf("--partitions %s ", parts))
	assert.Contains(t, text, "--bootstrap-server "+composeKafkaAddr)
	assert.Contains(t, text, "--if-not-exists")
	assert.Contains(t, text, `"$$topic"`, "Compose needs $$ for a shell variable")

	ch := c.Services["clickhouse"]
	assert.Contains(t, ch.Volumes, "./configs/clickhouse:/docker-entrypoint-initdb.d:ro")
	assert.Equal(t, "service_completed_successfully", ch.DependsOn["kafka-init"].Condition)
	assert.NotEmpty(t, ch.Environment["CLICKHOUSE_USER"])
	var ports []int
	for _, p := range ch.Ports {
		h, _ := publishedPort(t, p)
		ports = append(ports, h)
	}
	assert.Contains(t, ports, 8123, "ClickHouse's HTTP interface")
}
