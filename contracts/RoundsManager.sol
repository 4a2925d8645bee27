// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Interfaces.sol";

/// Rounds of `roundLength` blocks. A round is initialized (by anyone) once, recording the hash of
/// the block before: the creationRoundBlockHash that tickets of that round carry.
contract RoundsManager is Controlled {
    uint256 public roundLength;
    uint256 public lastInitializedRound;
    mapping(uint256 => bytes32) private roundBlockHash;

    event NewRound(uint256 indexed round, bytes32 blockHash);
    event ParameterUpdate(string param);

    constructor(address controller_, uint256 roundLength_) Controlled(controller_) {
        require(roundLength_ > 0, "round length cannot be 0");
        roundLength = roundLength_;
    }

    function setRoundLength(uint256 roundLength_) external onlyControllerOwner {
        require(roundLength_ > 0, "round length cannot be 0");
        roundLength = roundLength_;
        emit ParameterUpdate("roundLength");
    }

    function initializeRound() external {
        uint256 round = currentRound();
        require(roundBlockHash[round] == bytes32(0), "round already initialized");
        bytes32 hash = blockhash(block.number - 1);
        lastInitializedRound = round;
        roundBlockHash[round] = hash;
        emit NewRound(round, hash);
    }

    function blockNum() public view returns (uint256) {
        return block.number;
    }

    function currentRound() public view returns (uint256) {
        return block.number / roundLength;
    }

    function currentRoundStartBlock() external view returns (uint256) {
        return currentRound() * roundLength;
    }

    function currentRoundInitialized() external view returns (bool) {
        return roundBlockHash[currentRound()] != bytes32(0);
    }

    function blockHashForRound(uint256 round) external view returns (bytes32) {
        return roundBlockHash[round];
    }
}
