/** @fileoverview fused.* graph ops made by fusion passes (to be filled). */
export {};
