"""Derive ``azure_rtt_p95_ms.csv`` from the Azure round-trip latency matrix (see README.md).

The three source rows below are copied verbatim from the CSV block of "Azure network round-trip latency
statistics" (dataset of 2026-07-30, monthly P95, ms): rows are source regions, columns destinations.
Run: python3 data/regions/make_rtt.py  (writes the CSV next to this script, deterministically).
"""
import csv
import io
import pathlib

HEADER = ("Source,Australia Central,Australia Central 2,Australia East,Australia Southeast,Austria East,Belgium Central,"
          "Brazil South,Canada Central,Canada East,Central India,Central US,Denmark East,East Asia,East US,East US 2,"
          "France Central,France South,Germany North,Germany West Central,Indonesia Central,Israel Central,Italy North,"
          "Japan East,Japan West,Jio India West,Korea Central,Korea South,Malaysia West,Mexico Central,"
          "New Zealand North,North Central US,North Europe,Norway East,Norway West,Poland Central,Qatar Central,"
          "South Africa North,South Africa West,South Central US,South India,Southeast Asia,Spain Central,"
          "Sweden Central,Switzerland North,Switzerland West,UAE Central,UAE North,UK South,UK West,West Central US,"
          "West Europe,West US,West US 2,West US 3")
ROWS = [
    "East US,209,213,207,217,106,93,119,22,27,214,35,95,207,,11,90,90,97,97,240,126,105,165,173,226,191,188,233,63,"
    "198,26,74,98,96,104,191,226,205,44,244,229,83,110,104,96,184,190,80,82,54,89,74,75,70",
    "Japan East,111,136,105,115,258,244,275,165,176,129,139,248,51,165,168,245,240,251,250,86,250,256,,14,151,35,29,"
    "77,147,130,152,232,254,252,260,171,254,312,140,107,74,227,260,254,255,155,155,237,242,125,242,109,103,118",
    "West Europe,256,255,282,291,26,10,189,93,88,153,114,20,278,91,94,15,23,17,14,182,66,29,240,246,163,267,260,186,"
    "135,275,106,20,25,25,28,128,171,154,126,174,182,29,31,21,23,120,123,13,17,131,,153,153,147",
]

#: User group of each destination region, following the case study's T6 rows (北米 / 欧州 / アジア / その他).
#: Middle East, Africa, Oceania and South America fall under "other".
GROUPS = {
    "north_america": ["Canada Central", "Canada East", "Central US", "East US", "East US 2", "Mexico Central",
                      "North Central US", "South Central US", "West Central US", "West US", "West US 2", "West US 3"],
    "europe": ["Austria East", "Belgium Central", "Denmark East", "France Central", "France South", "Germany North",
               "Germany West Central", "Italy North", "North Europe", "Norway East", "Norway West", "Poland Central",
               "Spain Central", "Sweden Central", "Switzerland North", "Switzerland West", "UK South", "UK West",
               "West Europe"],
    "asia": ["Central India", "East Asia", "Indonesia Central", "Japan East", "Japan West", "Jio India West",
             "Korea Central", "Korea South", "Malaysia West", "South India", "Southeast Asia"],
    "other": ["Australia Central", "Australia Central 2", "Australia East", "Australia Southeast", "Brazil South",
              "Israel Central", "New Zealand North", "Qatar Central", "South Africa North", "South Africa West",
              "UAE Central", "UAE North"],
}


def main() -> None:
    group_of = {r: g for g, regions in GROUPS.items() for r in regions}
    header = HEADER.split(",")
    assert len(header) == 55 and all(len(r.split(",")) == 55 for r in ROWS)
    assert set(group_of) == set(header[1:]), "every destination has a group"
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["source_region", "destination_region", "destination_group", "rtt_p95_ms"])
    for row in ROWS:
        cells = row.split(",")
        for dest, value in zip(header[1:], cells[1:]):
            if value:
                w.writerow([cells[0], dest, group_of[dest], int(value)])
    (pathlib.Path(__file__).parent / "azure_rtt_p95_ms.csv").write_text(out.getvalue(), encoding="utf-8")


if __name__ == "__main__":
    main()
