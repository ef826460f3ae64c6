// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice A version string; its major part ("v1" of "v1.2.3") names EIP-712 domains.
abstract contract SemVer {
    string private _version;

    constructor(string memory version_) {
        _version = version_;
    }

    function version() public view virtual returns (string memory) {
        return _version;
    }

    /// @dev Everything before the first '.', e.g. "v1" for "v1.2.3" and "1" for "1.2.3".
    function _majorVersion() internal view returns (string memory) {
        bytes memory full = bytes(_version);
        uint256 end = 0;
        while (end < full.length && full[end] != ".") ++end;
        bytes memory major = new bytes(end);
        for (uint256 i = 0; i < end; ++i) {
            major[i] = full[i];
        }
        return string(major);
    }
}
