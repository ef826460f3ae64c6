"""The AVS project's own contracts on the devnet: its task hook and any other deployable contract.

`hourglass avs build` compiles ``contracts/src`` into ``contracts/out`` (with a ``manifest.json``). When the
devnet starts inside such a project it compiles again if the sources changed (a no-op when the manifest is
fresh), then deploys on every chain:

- **the hook**: the one artifact whose ABI has IAVSTaskHook's five functions. Its constructor takes no
  argument, or exactly one ``address`` — which receives that chain's TaskMailbox (so a hook can check
  ``msg.sender``). It becomes the executor set's ``taskHook`` in the mailbox's task config.
- **the workflow contract**: the one artifact that extends our WorkflowStateMachine (its ABI has the state
  machine's functions). It is deployed *instead of* ours, with the same constructor arguments (the chain's
  TaskMailbox, the AVS, the AVS as owner and fee collector, no fees, open registration), and is the executor sets'
  task hook (push) unless the project also has a hook of its own (then the driver pulls: completePhase).
- **every other concrete contract with a no-argument constructor** (interfaces, abstract contracts and
  contracts with arguments are left out; the latter with a warning).

Only what ``contracts/src`` still has a source for is deployed: a project with no ``.sol`` left (its hook's file
deleted to go back to the default hook) gets the artifacts an earlier build left removed, and a note saying so.

Each deployed contract is handed to the performers as ``<CONTRACT_NAME_UPPER_SNAKE>=<L1 address>``
(WIRE.md §1) and recorded in state.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourglass_cli.errors import DevnetError, HourglassError, ToolNotFoundError

if TYPE_CHECKING:
    from hourglass_cli.chain.sender import PendingTx, TxSender

HOOK_FUNCTIONS = frozenset({"validatePreTaskCreation", "handlePostTaskCreation", "validatePreTaskResultSubmission",
                            "handlePostTaskResultSubmission", "calculateTaskFee"})
# Functions only a WorkflowStateMachine has (a project contract with all of them extends ours).
WORKFLOW_FUNCTIONS = frozenset({"registerWorkflow", "executeWorkflow", "completePhase", "startPhaseTask",
                                "checkPhaseTimeout", "getPhaseState"})
WORKFLOW_CONSTRUCTOR = ["address", "address", "address", "address", "uint256", "uint256", "bool"]
BUILD_HINT = "run `hourglass avs build` in the project (it compiles contracts/src into contracts/out)"


@dataclass(frozen=True)
class ProjectContract:
    """One deployable project artifact."""

    name: str
    abi: list[dict[str, Any]] = field(repr=False)
    bytecode: str = field(repr=False)
    takes_mailbox: bool = False  # constructor(address mailbox)
    workflow: bool = False  # extends WorkflowStateMachine: constructed with its arguments


@dataclass(frozen=True)
class ProjectContracts:
    """What the devnet deploys from the project: the hook (if any), its workflow contract (if any), the others."""

    hook: ProjectContract | None
    others: tuple[ProjectContract, ...]
    skipped: tuple[str, ...] = ()  # warnings: contracts not deployed, and why
    workflow: ProjectContract | None = None

    @property
    def all(self) -> tuple[ProjectContract, ...]:
        return ((self.hook,) if self.hook else ()) + ((self.workflow,) if self.workflow else ()) + self.others


def _ctor_inputs(abi: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ctor = next((e for e in abi if e.get("type") == "constructor"), None)
    return list(ctor.get("inputs", [])) if ctor else []


def is_task_hook(abi: list[dict[str, Any]]) -> bool:
    """The ABI has IAVSTaskHook's five functions."""
    return HOOK_FUNCTIONS <= {e.get("name") for e in abi if e.get("type") == "function"}


def is_workflow_contract(abi: list[dict[str, Any]]) -> bool:
    """The ABI has WorkflowStateMachine's functions (the contract extends ours)."""
    return WORKFLOW_FUNCTIONS <= {e.get("name") for e in abi if e.get("type") == "function"}


def _compile(contracts: Path) -> tuple[Path | None, str]:
    """(contracts/out after compiling stale sources, ""), or (None, a warning) when no installed solc fits their
    pragma (the devnet still starts, with the default hook); DevnetError saying to run `avs build` if compiling
    fails."""
    from hourglass_cli.scaffold.contracts import compile_project_contracts

    try:
        return compile_project_contracts(contracts).out_dir, ""
    except ToolNotFoundError as exc:
        return None, (f"project contracts not deployed, the default AVSTaskHook is used: {exc.message}; "
                      f"{exc.hint or 'install a solc'}, then restart the devnet (or run `hourglass avs build` first)")
    except HourglassError as exc:
        raise DevnetError(f"the project's contracts in {contracts / 'src'} are not compiled and compiling them "
                          f"failed: {exc.message}", hint=BUILD_HINT) from None


def classify(out: Path) -> ProjectContracts:
    """The deployable artifacts listed in ``out/manifest.json``."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        names = sorted(manifest.get("artifacts", {}))
    except (OSError, ValueError, AttributeError) as exc:
        raise DevnetError(f"{out / 'manifest.json'} cannot be read: {exc}", hint=BUILD_HINT) from None
    hooks: list[ProjectContract] = []
    workflows: list[ProjectContract] = []
    others: list[ProjectContract] = []
    skipped: list[str] = []
    for name in names:
        try:
            art = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DevnetError(f"{out / (name + '.json')} cannot be read: {exc}", hint=BUILD_HINT) from None
        abi, code = art.get("abi", []), str(art.get("bytecode") or "").removeprefix("0x")
        if not code:
            continue  # an interface, library-less abstract contract: nothing to deploy
        inputs = _ctor_inputs(abi)
        if is_workflow_contract(abi):  # also an IAVSTaskHook: told apart first
            if [i.get("type") for i in inputs] != WORKFLOW_CONSTRUCTOR:
                raise DevnetError(f"the workflow contract {name} has constructor arguments the devnet cannot supply "
                                  f"({', '.join(i.get('type', '?') for i in inputs) or 'none'})",
                                  hint="give it WorkflowStateMachine's constructor (address mailbox, address avs, "
                                       "address owner, address feeCollector, uint256 creationFee, uint256 "
                                       "executionFee, bool openRegistration) and pass them on")
            workflows.append(ProjectContract(name, abi, "0x" + code, workflow=True))
        elif is_task_hook(abi):
            if inputs and [i.get("type") for i in inputs] != ["address"]:
                raise DevnetError(f"the task hook {name} has constructor arguments the devnet cannot supply "
                                  f"({', '.join(i.get('type', '?') for i in inputs)})",
                                  hint="give it a constructor without arguments, or one taking the TaskMailbox "
                                       "address")
            hooks.append(ProjectContract(name, abi, "0x" + code, takes_mailbox=bool(inputs)))
        elif inputs:
            skipped.append(f"project contract {name} not deployed: its constructor takes arguments")
        else:
            others.append(ProjectContract(name, abi, "0x" + code))
    if len(hooks) > 1:
        raise DevnetError(f"the project has {len(hooks)} task hooks ({', '.join(h.name for h in hooks)}); the "
                          "devnet configures one", hint="keep one IAVSTaskHook implementation in contracts/src")
    if len(workflows) > 1:
        raise DevnetError(f"the project has {len(workflows)} workflow contracts "
                          f"({', '.join(w.name for w in workflows)}); the devnet deploys one",
                          hint="keep one contract extending WorkflowStateMachine in contracts/src")
    return ProjectContracts(hooks[0] if hooks else None, tuple(others), tuple(skipped),
                            workflows[0] if workflows else None)


def load_project_contracts(project_dir: str | Path) -> ProjectContracts | None:
    """The project's contracts (compiled first if stale), or None when it has no Solidity sources (after removing
    any artifacts an earlier build left behind, with a note saying so)."""
    contracts = Path(project_dir) / "contracts"
    src = contracts / "src"
    if not (src.is_dir() and any(src.rglob("*.sol"))):
        # Artifacts without their sources are an old build's (the hook's file deleted to go back to the default
        # hook): deploying them would keep the hook the user removed.
        from hourglass_cli.scaffold.contracts import prune_stale_artifacts, stale_note

        removed = prune_stale_artifacts(contracts)
        if not removed:
            return None
        return ProjectContracts(None, (), (stale_note(removed) + "; the devnet uses the default AVSTaskHook",))
    out, warning = _compile(contracts)
    if out is None:
        return ProjectContracts(None, (), (warning,))
    found = classify(out)
    return found if found.all or found.skipped else None


def _gas(contract: ProjectContract, data: str) -> int:
    # as deploy.deploy_gas: CREATE + calldata + 200/byte of runtime code (bounded by the init code) + margin
    init = len(data.removeprefix("0x")) // 2
    return 53_000 + 16 * init + 2 * ((init + 31) // 32) + 200 * init + 300_000


def _gas_workflow(data: str) -> int:
    # a subclass of ours: its code plus the helpers its constructor creates, as deploy.deploy_gas counts them
    from hourglass_cli.devnet.deploy import WORKFLOW_CONTRACT, deploy_gas

    ours = deploy_gas(WORKFLOW_CONTRACT)
    from hourglass_cli.compiler.artifacts import load_artifact

    extra = max(0, len(data.removeprefix("0x")) // 2 - len(load_artifact(WORKFLOW_CONTRACT)["bytecode"]) // 2)
    return ours + 216 * extra


def _ctor_args(c: ProjectContract, mailbox: str, avs: str) -> tuple[Any, ...]:
    if c.workflow:
        from hourglass_cli.devnet.deploy import workflow_constructor_args

        if not avs:
            raise DevnetError(f"deploying the workflow contract {c.name} needs the AVS's address")
        return workflow_constructor_args(mailbox, avs)
    return (mailbox,) if c.takes_mailbox else ()


def send_project_contracts(deployer: TxSender, found: ProjectContracts, mailbox: str,
                           avs: str = "") -> list[PendingTx]:
    """Send every deployment (not awaited); the hook first when there is one, then the workflow contract."""
    from hourglass_cli.chain.contracts import remember

    pending = []
    for c in found.all:
        ctor = deployer.w3.eth.contract(abi=c.abi, bytecode=c.bytecode).constructor(*_ctor_args(c, mailbox, avs))
        ctor.contract_name = c.name
        data = ctor.data_in_transaction
        sent = deployer.send(ctor, gas=_gas_workflow(data) if c.workflow else _gas(c, data))
        remember(str(sent.contract_address), c.name)
        pending.append(sent)
    return pending


def deploy_project_contracts(deployer: TxSender, found: ProjectContracts, mailbox: str,
                             avs: str = "") -> dict[str, str]:
    """Deploy them and wait; {contract name: address}. `avs` is needed for a workflow contract."""
    from hourglass_cli.chain.sender import wait_all

    pending = send_project_contracts(deployer, found, mailbox, avs)
    receipts = wait_all(pending)
    out: dict[str, str] = {}
    for c, sent, receipt in zip(found.all, pending, receipts):
        if receipt["contractAddress"] != sent.contract_address:
            raise DevnetError(f"{c.name} landed at {receipt['contractAddress']}, not at {sent.contract_address}",
                              hint="another process sent from the deployer account; restart the devnet")
        out[c.name] = str(sent.contract_address)
    return out
