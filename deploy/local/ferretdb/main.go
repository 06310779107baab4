// Command kopa-ferretdb runs an embedded FerretDB v1 (MongoDB wire protocol)
// over SQLite or PostgreSQL for local development and CI.
//
// It exists because `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`
// builds a binary that panics at start: build/version/version.txt is generated
// by FerretDB's own build and is not part of the module. The embeddable package
// skips that check when the main module is not FerretDB itself (version info
// then reads "unknown", package "embedded"), so no generated file is needed.
//
// Configuration: flags, each with an environment fallback.
//
//	-listen-addr    KOPA_FERRETDB_LISTEN      (default 127.0.0.1:27017)
//	-handler        KOPA_FERRETDB_BACKEND     postgresql | sqlite (default postgresql)
//	-sqlite-url     KOPA_FERRETDB_SQLITE_URL  e.g. file:/var/lib/kopa/ferretdb-sqlite/
//	-postgresql-url KOPA_FERRETDB_PG_URL      e.g. postgres://ferretdb@127.0.0.1:5432/ferretdb
//	-log-level      KOPA_FERRETDB_LOG_LEVEL   debug | info | warn | error (default error: at warn,
//	                                          FerretDB dumps every failed request, such as each
//	                                          duplicate-key insert, in full)
//	-ping           send a wire-protocol ping to -listen-addr and exit (readiness probe)
//
// SIGTERM or SIGINT closes the listener and all connections, then the backend.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// patches names the fixes applied to FerretDB at build time (set by build.sh).
var (
	patches         = "none"
	ferretdbVersion = "unknown"
)

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func main() {
	listen := flag.String("listen-addr", env("KOPA_FERRETDB_LISTEN", "127.0.0.1:27017"), "TCP address to listen on")
	handler := flag.String("handler", env("KOPA_FERRETDB_BACKEND", "postgresql"), "backend: postgresql or sqlite")
	sqliteURL := flag.String("sqlite-url", env("KOPA_FERRETDB_SQLITE_URL", "file:data/"), "SQLite URI of an existing directory, ending with /")
	pgURL := flag.String("postgresql-url", env("KOPA_FERRETDB_PG_URL", "postgres://ferretdb@127.0.0.1:5432/ferretdb"), "PostgreSQL connection string")
	logLevel := flag.String("log-level", env("KOPA_FERRETDB_LOG_LEVEL", "error"), "FerretDB log level: debug, info, warn or error")
	pingOnly := flag.Bool("ping", false, "do not serve: send a wire-protocol ping to -listen-addr and exit 0 when it answers ok")
	flag.Parse()

	if *pingOnly {
		if err := ping(*listen, 2*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "kopa-ferretdb: ping %s: %v\n", *listen, err)
			os.Exit(1)
		}
		return
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "kopa-ferretdb: bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// the launcher's own messages are always written
	own := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}

	switch *handler {
	case "sqlite":
		dir := strings.TrimPrefix(strings.SplitN(*sqliteURL, "?", 2)[0], "file:")
		if !strings.HasPrefix(*sqliteURL, "file:") || !strings.HasSuffix(dir, "/") {
			fatal(own, "-sqlite-url must look like file:/some/dir/ (a directory, ending with /; query parameters allowed)", nil)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			fatal(own, "SQLite directory does not exist: create it first", err)
		}
		cfg.SQLiteURL = *sqliteURL
	case "postgresql":
		cfg.PostgreSQLURL = *pgURL
	default:
		fatal(own, fmt.Sprintf("unknown -handler %q: use sqlite or postgresql", *handler), nil)
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		fatal(own, "cannot start FerretDB", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	go func() {
		<-ctx.Done()
		own.Info("kopa-ferretdb: signal received, shutting down")
		// Run closes listeners, connections and the backend; if it hangs, do not hang forever.
		time.Sleep(20 * time.Second)
		own.Error("kopa-ferretdb: shutdown took longer than 20s, exiting")
		os.Exit(1)
	}()

	own.Info("kopa-ferretdb: listening", "addr", *listen, "handler", *handler, "ferretdb", ferretdbVersion, "patches", patches)
	if err := f.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fatal(own, "FerretDB stopped with an error", err)
	}
	own.Info("kopa-ferretdb: stopped")
}

func fatal(logger *slog.Logger, msg string, err error) {
	if err != nil {
		logger.Error("kopa-ferretdb: "+msg, "error", err)
	} else {
		logger.Error("kopa-ferretdb: " + msg)
	}
	os.Exit(1)
}
