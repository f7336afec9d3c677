package billbridge

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/caddyserver/caddy/v2"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "billbridge-test",
		Usage: "[--config <path>] [--adapter <name>] <case.json|dir>...",
		Short: "Runs contract-test cases against the billbridge handlers of a config",
		Long: `
Runs each case (a JSON file; a directory stands for its *.json files)
against the config's billbridge handler it names: the case's gateway
requests go through the real pipeline in-process, with a fresh memory
store, while the legacy API and the gateways' APIs (QM Requery, Bill24
Transaction Verify) are played back from the case. Nothing is sent
anywhere.

Prints one line per case and, for a failure, each difference between
what was expected and what happened. Amounts compare as decimals
(45 == 45.00). Exits 0 only if every case passes.

Without --config, the Caddyfile in the current directory is used.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdContractTest)
		},
	})
}

// contractOut takes the report; tests read it.
var contractOut io.Writer = os.Stdout

func cmdContractTest(fl caddycmd.Flags) (int, error) {
	if len(fl.Args()) == 0 {
		return 1, errors.New("give one or more case files or directories")
	}
	// Provisioning logs (the memory store's production warning, once per
	// case) would bury the report; a failing step prints its handler's
	// log lines itself.
	_, orig, buffered := caddy.BufferedLog()
	cfg, _, _, err := caddycmd.LoadConfig(fl.String("config"), fl.String("adapter"))
	if err != nil {
		caddy.UnbufferDefaultLogger(orig)
		return 1, err
	}
	failed, err := ContractTest(cfg, fl.Args(), contractOut)
	if err != nil {
		caddy.UnbufferDefaultLogger(orig) // what led to it, then the error
		return 1, err
	}
	buffered.FlushTo(zap.NewNop())
	caddy.UnbufferDefaultLogger(orig)
	if failed > 0 {
		// An error, not only a status: Caddy's wrapper exits 0 on status
		// 1 without one.
		return 1, fmt.Errorf("%d case(s) failed", failed)
	}
	return 0, nil
}
