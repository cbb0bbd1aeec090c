package tracefile_test

import (
	"fmt"
	"log"

	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

func ExampleGroup() {
	src, err := tracefile.Locate("testdata/runs")
	if err != nil {
		log.Fatal(err)
	}
	records, warnings, err := tracefile.ReadAll(src)
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range warnings {
		log.Print(w)
	}
	for _, run := range tracefile.Group(records)[:4] {
		if run.InProgress() {
			fmt.Printf("%.8s in progress: ended %d, running %d\n", run.ID, len(run.Observations), len(run.Running))
			continue
		}
		fmt.Printf("%.8s %s took %v (observations: %d)\n", run.ID, run.Name(), run.End().Sub(run.Start()), len(run.Observations))
	}
	// Output:
	// f0000000 in progress: ended 2, running 2
	// fca9f239 Gather took 100.564802ms (observations: 4)
	// 81f41ac0 Agent.Research took 2.382192ms (observations: 8)
	// 4295e04b TokenSeq took 61.1231ms (observations: 1)
}
