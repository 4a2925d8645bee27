// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// What lpengine's contracts ask of each other, looked up through the Controller by
/// keccak256(name) as in Livepeer's protocol.
interface IController {
    function owner() external view returns (address);

    function getContract(bytes32 id) external view returns (address);
}

interface IRoundsManager {
    function currentRound() external view returns (uint256);

    function blockHashForRound(uint256 round) external view returns (bytes32);
}

interface IBondingManager {
    function isActiveTranscoder(address transcoder) external view returns (bool);

    function getTranscoderPoolSize() external view returns (uint256);
}

/// Base of the contracts whose settings only the Controller's owner may change.
abstract contract Controlled {
    IController public immutable controller;

    constructor(address controller_) {
        require(controller_ != address(0), "controller is null address");
        controller = IController(controller_);
    }

    modifier onlyControllerOwner() {
        require(msg.sender == controller.owner(), "caller must be Controller owner");
        _;
    }

    function roundsManager() internal view returns (IRoundsManager) {
        return IRoundsManager(controller.getContract(keccak256("RoundsManager")));
    }

    function bondingManager() internal view returns (IBondingManager) {
        return IBondingManager(controller.getContract(keccak256("BondingManager")));
    }
}
