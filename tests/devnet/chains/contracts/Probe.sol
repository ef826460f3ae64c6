// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// A small contract for the chain parity tests: events, custom/string/panic reverts, CHAINID,
/// a gas burner and a pairing-precompile caller.
contract Probe {
    event Ping(address indexed from, uint256 indexed n, bytes32 tag, string note);
    event Pong(uint256 indexed n);
    error Nope(uint256 code, address who);

    uint256 public count;
    mapping(uint256 => uint256) public slots;

    function ping(uint256 n, bytes32 tag) external {
        count += 1;
        emit Ping(msg.sender, n, tag, "hi");
        if (n % 2 == 0) emit Pong(n);
    }

    function chainId() external view returns (uint256) {
        return block.chainid;
    }

    function blockNumber() external view returns (uint256) {
        return block.number;
    }

    function failCustom(uint256 code) external view {
        revert Nope(code, msg.sender);
    }

    function failString() external pure {
        revert("no way");
    }

    function failEmpty() external pure {
        revert();
    }

    function failPanic(uint256 d) external pure returns (uint256) {
        return 10 / d;
    }

    function burn(uint256 rounds) external {
        for (uint256 i = 0; i < rounds; i++) slots[i] = i + 1;
    }

    function pair(bytes calldata input) external view returns (bool) {
        (bool ok, bytes memory out) = address(8).staticcall(input);
        require(ok, "pairing failed");
        return abi.decode(out, (bool));
    }
}
